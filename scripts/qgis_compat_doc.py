"""Generate docs/qgis-compat.md from the QGIS facade (ogcserve.compat.qgis).

    python scripts/qgis_compat_doc.py          # rewrite docs/qgis-compat.md
    python scripts/qgis_compat_doc.py --check  # exit 1 if it is out of date

The class and method tables come from the facade itself (each method's docstring is its
line); the differences from QGIS are written below, by hand. tests/compat/test_docs.py fails
when the file is out of date or a facade method has no docstring.
"""

# ruff: noqa: E501 -- the differences are a Markdown table: one row per line.
from __future__ import annotations

import inspect
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "qgis-compat.md"

INTRO = """\
# QGIS Server compatibility

Plugins written for QGIS Server (`from qgis.server import *`) run on ogcserve without an edit.
Put the plugin folder in a folder named by `QGIS_PLUGINPATH`, `OGCSERVE_PLUGINPATH` or
`--plugins`; as in QGIS, each sub-folder with `__init__.py` and a `metadata.txt` saying
`server=True` is imported and its `serverClassFactory(serverIface)` called.

How it works:

- `serverIface` is a `QgsServerInterface`, a subclass of ogcserve's `ServerInterface`: QGIS's
  camelCase methods are one-line delegations to the snake_case ones (which the same object
  also offers). `QgsServerFilter`, `QgsAccessControlFilter` and `QgsServerCacheFilter` are
  subclasses of `RequestFilter`, `AccessControlFilter` and `CacheFilter`: the core calls their
  snake_case methods, which call the camelCase ones a plugin overrides. The facade lives in
  `ogcserve.compat.qgis`, the only camelCase code of the package; the core never imports it
  (`app.py`, the composition root, hands its `folder_interface` to the plugin loader).
- Before a folder plugin is imported, the loader asks that factory for the interface, and the
  factory installs an import shim: the modules `qgis`, `qgis.server`, `qgis.core`, `qgis.PyQt`
  and `qgis.PyQt.QtCore`, filled with the classes below. The shim is installed only when the
  real QGIS bindings cannot be imported (with PyQGIS installed, `import qgis` is the real one).
- With the `qt` extra (`pip install 'ogcserve[qt]'`, PyQt5 from PyPI), `qgis.PyQt.<module>` is
  the real `PyQt5.<module>` — `QtCore`, `QtGui` (`QImage`, `QPainter`), `QtWidgets` and the
  rest — and so are the QGIS 2 names `PyQt4.QtCore` and `PyQt4.QtGui` (the latter with the
  widgets, as in PyQt4); the facade's bodies and URLs are then PyQt5's `QByteArray` and `QUrl`,
  and PyQt5 objects a plugin returns are accepted. Without it, `qgis.PyQt.QtCore` is the subset
  below and any other Qt import raises an `ImportError` naming the extra. No `QApplication` is
  created (`QImage` and `QPainter` need none, nor a display).
- QGIS puts the plugin folder's *parent* on `sys.path` and imports the folder as a package; so
  does ogcserve. The folder itself is not put on `sys.path` (a plugin's `utils.py` would shadow
  another's); instead, the one Python 2 idiom the QGIS 2 cookbook relies on works: inside
  package `HelloServer`, `from HelloServer import HelloServerServer` finds the name in the
  sibling module `HelloServer.py` (QGIS 3 fails there: elpaso/qgis-helloserver#1).
- `QgsMessageLog.logMessage(message, tag, level)` logs to the Python logger `qgis.<tag>`:
  `Qgis.Info` and `Qgis.Success` at INFO, `Qgis.Warning` (the default) at WARNING,
  `Qgis.Critical` at CRITICAL, `Qgis.NoLevel` at DEBUG; the QGIS 2 names
  `QgsMessageLog.INFO/WARNING/CRITICAL` too.

The seed examples (the QGIS cookbook's HelloFilter, ParamsFilter, watermark and
access-control plugin) are in `examples/qgis_plugins/` and are tested as plugin folders by
`tests/compat/test_seed_examples.py`; `tests/compat/test_contract.py` runs each plugin
scenario through both APIs and checks that the responses are identical.
"""

DIFFERENCES = """\
## Differences from QGIS

Where QGIS's behaviour is a bug, ogcserve does the safe thing:

| QGIS (3.40, reference/qgis_server_plugins.md) | ogcserve |
|---|---|
| A Python exception in a bool hook (`onRequestReady`...), an access-control, cache-filter or `QgsService` method **aborts the process** (§3.3). | It is logged with the plugin's name and traceback; the request answers 500 `NoApplicableCode` without internals; the process and the next request are unaffected. |
| An exception in `requestReady()` sends "Internal Server Error" **and still runs the service**, whose output is appended (§3.3). | The service does not run: the answer is the 500 report alone. |
| `setServiceException()` in `onProjectReady()` does not stop the service (its output follows the exception XML, §3.4). | It stops the service, as in `onRequestReady()`. |
| `cacheKey()` is inverted: all filters returning `""` (the default) caches capabilities for everybody, which serves one user's layer list to another; a non-empty key disables caching (§4.3). | Cached documents and images are keyed by an access fingerprint built from the decisions themselves (readable layers, hidden attributes, filters) and every `cacheKey()`; users with the same rights share entries, others never do, whatever `cacheKey()` returns. `None` (which the cookbook suggests) counts as `""`. |
| `exceptionRaised()` is True only after `setServiceException()`; core errors leave it False, so a `responseComplete` filter (the watermark) may rewrite an error document. | True whenever an error answers the request, the service's own included. |
| Returning anything but a bool from an `on*` hook aborts the process. | `None` means "continue", like `True`. |
| `clear()` keeps the status code (an answer to a custom SERVICE becomes a 500). | `clear()` resets the status to 200; so does the QGIS 2 `clearHeaders()` (in QGIS 2 the status was a header). |
| `setServiceException()` accepts only `QgsServerException` from Python (`QgsOgcServiceException` raises `TypeError`). | Both are accepted, and may also be raised. |
| A `QgsServerException` is written as `<ServerException>message</ServerException>` (text/xml). | It is written in the error format of the service asked for (an OGC exception report for OWS services, text for custom services, JSON for URL routes), with the exception's status. |
| Parameter keys other than SERVICE, REQUEST, VERSION, MAP and FILE_NAME are case-sensitive (upper-cased). | Every key is case-insensitive (stored upper-cased). |
| `setParameter("MAP", ...)` is ignored with a warning. | It chooses the project, like `setConfigFilePath()`. |
| `getEnv()` reads the process environment (the request's, under FCGI). | It reads the request's environment: headers as `HTTP_*`, `REMOTE_ADDR`, ... |
| Service names are case-sensitive; an unknown SERVICE answers HTTP 200 "Service configuration error". | Names are case-insensitive; an unknown SERVICE answers 400 `InvalidParameterValue`. |
| A layer's `id()` is a generated unique id. | It is the layer name (names are unique in a project). |
| An invalid `layerFilterExpression()` (the cookbook's `$role = 'user'`: `$role` is no QGIS function) silently gives no features. | The request is refused (400) — no rows leak either way; write `"role" = 'user'`. Expressions use the QGIS subset documented in docs/plugins.md. |
| `layerFilterSubsetString()` is ignored on OGC API Features reads; `allowToEdit()` is never called for OGC API writes; `authorizedLayerAttributes()` is ignored by DescribeFeatureType. | Every rule applies to every read and write of every service: they all go through one access layer. |
| `authorizedLayerAttributes()` may return names that are not attributes. | Names not in the list it was given are dropped. |
| A cache filter's `key` is the service URL; image caches ignore access control. | `key` is the server's key (project, request and access fingerprint), for documents and images; the content type of a cached body is read back from its bytes. |
| A Python exception in an OGC API handler answers 400 with the Python message. | It answers 500 without internals (and is logged). |
| OGC API Features is served at `/wfs3`; its requests reach filters with SERVICE empty and the query string's parameters (upper-cased). | It is served at `/ogcapi/<project>` (docs/services/ogcapi.md); filters see its requests the same way (SERVICE empty, parameters upper-cased, the path telling the resource). |
| An OGC API item excluded by `layerFilterExpression()` answers 500 `Invalid feature`. | It answers 404, worded as for a feature that does not exist. |
| A streamed response rebuilt in `onResponseComplete` (chunks held back with `onSendResponse` returning False) gets a Content-Length. | It is sent without Content-Length (chunked): the core cannot know that every chunk was held. |

### Bounded requests (issue 11)

| QGIS Server | ogcserve |
|---|---|
| No time limit on a request (the FCGI host's timeout kills the process). | Setting `request_timeout` (60 s): the work stops at its next check and the client gets a 503 `NoApplicableCode` report. |
| A project caps GetMap's width and height (`WMSMaxWidth`, `WMSMaxHeight`). | Setting `max_layers` (100) for every layer list of WMS and WFS, advertised as WMS 1.3.0 `LayerLimit`; `wms_max_size` for the image. |
| GetStyles returns the project's style whatever the access control hides. | Parts of a style reading hidden attributes are left out of GetStyles and legends (services/wms.md). |
| A slow plugin hook delays the answer by its own time; a worker killed by the FCGI host takes its requests along. | Every return from plugin code is a budget check: a hook that slept past `request_timeout` ends its request with the 503 (an edit it was part of is rolled back). A hook that never returns keeps its thread; a killed worker is replaced by the parent of `--workers N` and costs only its in-flight requests (docs/reliability.md). |

Not supported: `capabilitiesCache()`, `reloadSettings()`, `QgsServiceRegistry.getApi/unregisterApi`,
`QgsServerParameters`, HTML templates of OGC API handlers (`templatePath`, `staticPath`),
`QgsServerApiUtils`, `QgsAccessControl.filterFeatures`. Without the `qt` extra, the Qt subset
is `QByteArray`, `QRegularExpression` and `QUrl` (QImage, QPainter and the rest of Qt come
with the extra; or use Pillow, as `HelloServer/WatermarkFilter.py` does). With it, a plugin
that draws text needs its own `QGuiApplication` (QGIS Server has one). `QgsServerCacheManager` offers `deleteCachedDocuments`,
`deleteCachedImages` (both drop a project's documents and images) and `registerServerCache`.

Additions: `registerFilter()`, `registerAccessControl()` and `registerServerCache()` also take a
class (the cookbook writes `registerFilter(HelloFilter, 100)`), which is built with the
interface; `LayerPermissions(canRead=True, ...)` takes keyword arguments (a bare
`LayerPermissions()` is all False, as in QGIS); the QGIS 2 request-handler methods `setHeader`,
`clearHeaders` and `infoFormat` used by the old cookbook exist, and so do, under the `qt`
extra, its `PyQt4.QtCore` / `PyQt4.QtGui` imports. QGIS 3 has none of these (checked on QGIS
3.22: no `infoFormat`, no `QgsMessageLog.INFO`, no `PyQt4`), so the cookbook's watermark
filter as printed runs on ogcserve but not on QGIS 3.

## WMS: the project, groups and forbidden layers

Observed against Debian's QGIS Server 3.22 (`qgis_mapserv.fcgi` as CGI on a `.qgs` made with
PyQGIS) and QGIS 3.40's documented behaviour (reference/qgis_server_plugins.md §4.1):

| QGIS | ogcserve |
|---|---|
| The root layer's Name is the project setting `WMSRootName`, else the project title. | The project's `name` (default: the file's stem). |
| A root name equal to a layer's name is listed twice under one Name; GetMap then draws the layer but GetFeatureInfo queries the whole project (3.22, observed). | The layer wins in every operation, and the root layer has no Name. |
| Before 3.40 (PR #58073): a group with any forbidden member is 403 `Security`, and so is `LAYERS=<project>` in GetMap and GetFeatureInfo (3.22, observed). 3.40: forbidden members are dropped; a group with none left is 400 `LayerNotDefined` (GetMap, GetLegendGraphic). | As 3.40, in every operation (DescribeLayer, GetStyles and FILTER too), with the very answer a name that does not exist gets; the project draws and queries the layers the caller may read. |
| A group or the project draws its first layer (the top of the layer tree) on top; capabilities and legends list it first. | Project order is drawing order: the first layer of the file is at the bottom, for a group and the project too; capabilities and legends list the file's order. |
| A group's legend: its layers' legends stacked, each under its layer's name, no group heading (3.22, observed). | The same, with the layers' titles. |
| Groups and the root have no `Style`/`LegendURL` in the capabilities (3.22, observed). | The same. |
| `STYLES` has one entry for a group, applied to each member; an unknown style is an error (3.22, observed: 400). | The same (`StyleNotDefined`); every layer has only its `default` style. |
| GetFeatureInfo checks read permission on `LAYERS` and `QUERY_LAYERS`. | The same: `Security` (403) for a forbidden layer in either, `LayerNotDefined` for an unknown one. |
| GetMap without `VERSION`: 501 `OperationNotSupported`; GetFeatureInfo and GetLegendGraphic without it are answered (3.22, observed). | GetMap without `VERSION`: 400 `MissingParameterValue`; GetFeatureInfo and GetLegendGraphic are answered as 1.3.0. DescribeLayer and GetStyles need `VERSION` (QGIS's answer not compared). |

## The feature key

As in QGIS Server, a GeoPackage's `fid` and a PostGIS primary key are attributes: in every
output and DescribeFeatureType, and named by filters and by plugins' rules (`"fid" = 1`,
`"pk" IN (3, 4)`, `$id`). Differences:

| QGIS | ogcserve |
|---|---|
| A Shapefile's or GeoJSON file's FID is no attribute (only formats with a FID column, like GeoPackage, show one). | Every OGR source publishes its FID as `fid` (`ogc_fid` when the file has a `fid` attribute); `fields: {exclude: [fid]}` gives QGIS's view. |
| `EXP_FILTER` with several type names is ignored (a log line); with `FILTER`, the FILTER replaces it. | Several type names are refused (400); it is ANDed with `FILTER`, `BBOX` and `RESOURCEID`. |
| The key column comes from the data source (the `key=` of a PostGIS URI). | A layer's `key` may name any unique column of a GeoPackage, PostGIS or OGR source. |

## What a restricted caller can tell

The leak property (`tests/access/test_leak_property.py`) holds ogcserve to this: whatever a
caller may not read is answered as if it did not exist — hidden attributes, rows, values and
groups alike — except a data layer named explicitly, which is 403 `Security` as in QGIS.

| QGIS | ogcserve |
|---|---|
| An Insert is judged only by `allowToEdit()` on the new feature (reference §4.1), so a key given for it is tried as is: a duplicate of a row the caller's filter hides fails where a free key succeeds (inferred from QGIS's checks, not observed). | Under row rules on more than the key (layer filter, plugin expression or subset string) a chosen key is refused (400) whatever its value; the server picks one. Rules on the key alone judge the new feature as they judge that row, so they allow it. |
| `layerFilterExpression()` does not judge an Insert: under `"fid" IN (1, 2, 3)` a WFS-T Insert is stored as fid 244, a row the caller then cannot read (3.22, observed). | Row rules written as expressions (the layer's `filter`, `layerFilterExpression()`) judge a new feature, as they judge an Update's result: one the caller could not read is refused (403 `Security`) and the transaction rolled back. A feature sent without its key is judged with the key the source gives it, so that `"pk" IN (...)` admits the keys it names (QGIS desktop leaves a serial key out of its Inserts). |
| `layerFilterSubsetString()` restricts only the rows already stored: an Insert, or an Update's result, outside the subset is written, a row the caller then cannot read. | Subset strings judge writes too. Right after each Insert or Update, inside the transaction and before its commit, the database is asked whether every row written still matches every subset (the keys bound as parameters); a row that does not (a NULL result included, as a read would not return it) is refused as an expression rule refuses it, 403 `Security` naming neither the rule nor a value, and the whole transaction is rolled back, for WFS-T and OGC API Features Part 4 alike. |

## Filters on values of different types

QGIS's expression engine compares a number with a text as numbers when the text reads as one
(`"fid" = '1'` is true), as text otherwise. ogcserve's filters (QGIS expressions, CQL2; an FES
literal takes its property's type) compare values of one kind only: `"fid" = '1'`,
`"name" + 1` or `lower("fid")` are NULL, so they match no feature, on every
source (these parts of a filter are evaluated in Python, not sent to the database, where
PostgreSQL would refuse them and SQLite apply its own rules). Write `"fid" = 1`.

## WFS as clients see it

Compared with QGIS Server's WFS (3.22–3.40), as QGIS desktop, GDAL and OWSLib meet it:

- Type names: both list bare names (`countries`); ogcserve also accepts `ogcserve:countries`
  in every request, and can list the prefixed form instead (`wfs_prefixed_type_names`). QGIS
  desktop matches its layer's typename exactly against the capabilities, so a QGIS project
  saved with `typename='ogcserve:countries'` needs that setting (or the bare name). GDAL's
  driver also picks a layer by the listed name (and by the bare one when prefixed names are
  listed): `ogr2ogr ... WFS:<url> ogcserve:countries` fails with "Couldn't fetch requested
  layer" under the default listing, as it does against QGIS Server; no one listing serves
  both tools' exact matches, so a prefixed name given to GDAL needs the setting too.
- Axis order: QGIS Server advertises `EPSG:4326` and reads a URN `srsName` latitude first in
  WFS 1.0.0 too (its PR #41242). ogcserve advertises URNs from 1.1.0 on and reads WFS 1.0.0
  always x/y (GeoServer's rule): QGIS desktop 3.22 posts 1.0.0 Transactions with GML 2 x,y
  under the URN it read from the capabilities.
- Per-type `<Operations>` in 1.0.0/1.1.0 capabilities list what the caller may do on that type
  (QGIS Server lists the layer's configured edits).
- `RESULTTYPE=hits` in 1.1.0 answers `numberOfFeatures`; WFS 1.0.0 ignores RESULTTYPE.
- GeoJSON is answered with the media type asked for (`application/json`, `application/geo+json`,
  `application/vnd.geo+json`); QGIS Server answers `application/vnd.geo+json` whatever the name.

## Data sources: outages, slow clients, database errors

From QGIS Server's documentation (not observed here):

| QGIS Server | ogcserve |
|---|---|
| A layer whose data source is unavailable when the project loads makes the whole project unavailable, unless `QGIS_SERVER_IGNORE_BAD_LAYERS` is set. | A project loads if its sources open at start-up (`ogcserve check`); a database that goes down later costs only its layers' requests: 503 with `Retry-After` at once while it is known to be down. |
| Slow clients are the front web server's business (FastCGI behind nginx or Apache). | `write_timeout` cuts off a client that stops reading; a streamed answer holds no pooled database connection meanwhile. |
| How much of a database's error message reaches a WFS-T client was not compared. | The action and the constraint's kind and name; never the row, the values or the SQL. |

## The seed examples, and what had to change

`examples/qgis_plugins/` holds the cookbook's code as published, with these changes:

- `HelloServer/HelloServer.py`: `HelloServerServer` also registers `ParamsFilter` (200) and
  `WatermarkFilter` (300), which the cookbook shows as separate snippets (the HelloServer
  plugin registers all its filters the same way).
- `HelloServer/WatermarkFilter.py`: Pillow instead of QImage/QPainter/QBuffer, so that it runs
  without the `qt` extra; the checks, the log line, the rectangle `(20, 20, 40, 40)` and the
  body replacement are the cookbook's. The cookbook's own version, as printed (PyQt4 imports,
  QImage, QPainter, QBuffer), is `tests/compat/qt_plugins/CookbookWatermark/WatermarkFilter.py`
  (the printed page lost its indentation, restored there): under the `qt` extra it runs
  unmodified in a real `ogcserve serve` (`tests/compat/test_qt.py`), also with QGIS 3's
  `qgis.PyQt` imports.
- `MyAccessControl/AccessControl.py`: the imports the cookbook leaves out, and
  `server_iface.registerAccessControl(self, 100)` in the constructor — the cookbook's
  constructor never registers the filter, so it would never be asked anything (in QGIS
  either). `MyAccessControl/examples.py` holds each method example verbatim in a subclass.
- The cookbook's `layerPermissions` example says "read only" but sets `canRead` back to False:
  it denies the layer, in QGIS as here (tested as such). Its `$role = 'user'` expression is not
  valid (see above).
"""

HTTP = """\
## Status codes, headers, logs and browsers

- `setStatusCode()` (request handler and `QgsServerResponse`) takes any final status from 200
  to 999, sent as set: QGIS's test filter that sets 999 gets `HTTP/1.1 999` on the wire. What
  HTTP cannot carry — a status below 200 or above 999 or not an integer, a header name with a
  space or `:`, a value with a line break or not Latin-1, a body that is not bytes or text —
  answers 500 `NoApplicableCode` (the reason in the log) on a connection that stays open.
  204 and 304 go out without a body (docs/plugins.md#status-codes-and-headers-a-plugin-sets).
- `QgsMessageLog` messages go to Python logging (above), shown from `ogcserve serve
  --log-level` up in every worker; `QGIS_SERVER_LOG_LEVEL`, `QGIS_SERVER_LOG_FILE` and
  `QGIS_SERVER_LOG_STDERR` are not read. ogcserve also writes an access line per request,
  which QGIS Server leaves to the web server (docs/configuration.md#logs).
- QGIS Server leaves CORS to the web server in front of it; ogcserve answers it itself (any
  origin may read by default; preflights answered before plugins). A plugin that sets
  `Access-Control-Allow-Origin` keeps its value. Capabilities, DescribeFeatureType and legends
  carry an ETag and Last-Modified and answer 304 to conditional requests
  (docs/configuration.md#browsers-cors-and-conditional-requests).
- Request headers: QGIS Server reads them from the CGI environment its web server builds, so
  what `header()` and `getEnv()` give for a repeated header or a name with `_` depends on that
  server. ogcserve gives the same everywhere: a repeated header's values joined with `", "`,
  `X_Role` and `X-Role` two headers, and names with `_` left out of `getEnv` unless
  `allow_underscore_headers` (docs/security.md#headers-the-proxy-and-plugins). A URL or header
  block too long, or a request that is not HTTP, gets a ServiceExceptionReport (414, 431, 400)
  where QGIS's web server answers its own error page.
"""

SIDE_BY_SIDE = """\
## One access-control plugin, both servers (acceptance of issue 10)

A `QgsAccessControlFilter` written as QGIS users write them (`layerFilterExpression` returning
`"fid" IN (3,4)`, `layerFilterSubsetString` `"fid" < 10`, `authorizedLayerAttributes` hiding
`pop_est`, `allowToEdit` refusing fid 3, `layerPermissions` from an `X-Role` header read with
`getEnv("HTTP_X_ROLE")`) ran unchanged in `ogcserve serve --plugins` and in Debian's QGIS
Server 3.22 (`qgis_mapserv.fcgi` as CGI, `QGIS_PLUGINPATH`), on the same GeoPackage. The rows,
the visible attributes and the forbidden layers (403 `Security`) were the same in GetFeature
and GetFeatureInfo; `tests/projects/qgs/test_qgis_server_same_plugin.py` holds both servers to
that for the read rules (`EXP_FILTER` with `"fid"` and `$id`, an FES filter, `SORTBY` and
`PROPERTYNAME` on the key; `Security` in GetMap, GetFeatureInfo by `QUERY_LAYERS` or `LAYERS`,
and GetFeature). These answers differ, on purpose:

| QGIS Server 3.22 | ogcserve |
|---|---|
| `PROPERTYNAME` naming a hidden or unknown attribute: ignored (200). | 400 `InvalidParameterValue` "Unknown property" (a hidden attribute does not exist for the caller). |
| `FILTER`/`EXP_FILTER` on a hidden attribute (`"pop_est" > 1`) is evaluated: the caller learns about values it may not read. | 400 `InvalidParameterValue` "unknown property 'pop_est' in filter". |
| DescribeFeatureType lists the hidden attributes. | It lists only the caller's (see the table above). |
| An Update or Delete that `allowToEdit()` refuses: 200, `totalUpdated`/`totalDeleted` 0 and an `<Action>` message. | 403 `Security` naming the action and the feature. |
| A forbidden type name in WFS 1.1.0 answers an OGC 1.2.0 `ServiceExceptionReport`. | An OWS `ExceptionReport` of the version asked for. |
| GetFeatureInfo with `FEATURE_COUNT` on points: QGIS's tolerance and order. | A tolerance of 8 px (points), nearest first (services/wms.md): near the edge of the tolerance the features listed differ. |
| A real value that is a whole number is written `37589262` in text/plain, text/html and text/xml GetFeatureInfo. | Written as Python writes a float: `37589262.0` (GeoJSON: the same in both). |
| No `Cache-Control` on GetFeature (Qt's network cache may reuse an answer of the same second: QGIS desktop showed a feature as before its own saved edit when the server answered fast). | `Cache-Control: no-cache` on every answer (docs/configuration.md). |
| Header names as the FCGI host writes them (`Content-Type`). | In lower case (uvicorn), which HTTP allows; QGIS desktop 3.22's Identify reads a JSON GetFeatureInfo only under `Content-Type`, so the WMS capabilities list JSON before GML and QGIS asks for GML. |
"""


def _facade_classes() -> list[type]:
    from ogcserve.compat import qgis

    skip = {"SERVER_NAMES", "folder_interface"}
    classes = [getattr(qgis, n) for n in qgis.__all__ if n not in skip]
    return sorted({c for c in classes if inspect.isclass(c)}, key=lambda c: c.__name__)


def facade_methods(cls: type) -> list[tuple[str, str]]:
    """(name, docstring's first line) of the QGIS methods a facade class offers."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith("ogcserve.compat.qgis"):
            continue
        for name, value in vars(klass).items():
            function = value.__func__ if isinstance(value, staticmethod | classmethod) else value
            if name.startswith("_") or "_" in name or not inspect.isfunction(function):
                continue
            doc = (inspect.getdoc(function) or "").splitlines()
            if doc and (doc[0].startswith("Core") or doc[0].startswith("Itself")):
                continue  # a bridge to the core, not QGIS API
            found[name] = doc[0] if doc else ""
    return sorted(found.items())


def _base(cls: type) -> str:
    core = [
        k
        for k in cls.__mro__[1:]
        if k.__module__.startswith("ogcserve.") and not k.__module__.startswith("ogcserve.compat")
    ]
    return f" (subclass of `{core[0].__module__}.{core[0].__name__}`)" if core else ""


def render() -> str:
    """The whole of docs/qgis-compat.md."""
    from ogcserve.compat.qgis import SERVER_NAMES, core, qtcore

    lines = [
        INTRO,
        "## Supported classes and methods",
        "",
        "Generated by `scripts/qgis_compat_doc.py` from `ogcserve.compat.qgis`.",
        "",
        f"`qgis.server`: {', '.join(f'`{n}`' for n in SERVER_NAMES)}.  ",
        f"`qgis.core`: {', '.join(f'`{n}`' for n in core.__all__)}.  ",
        f"`qgis.PyQt.QtCore`: {', '.join(f'`{n}`' for n in qtcore.__all__)}.",
        "",
    ]
    for cls in _facade_classes():
        doc = (inspect.getdoc(cls) or "").splitlines()[0]
        lines += [f"### {cls.__name__}", "", f"{doc}{_base(cls)}", ""]
        methods = facade_methods(cls)
        if methods:
            lines += ["| method | |", "|---|---|"]
            lines += [f"| `{name}()` | {text.replace('|', '/')} |" for name, text in methods]
            lines.append("")
    return "\n".join(lines) + "\n" + DIFFERENCES + "\n" + HTTP + "\n" + SIDE_BY_SIDE


def main() -> int:
    """Write the file, or with --check report whether it is up to date."""
    text = render()
    if "--check" in sys.argv[1:]:
        ok = DOC.read_text(encoding="utf-8") == text
        print("docs/qgis-compat.md is up to date" if ok else "docs/qgis-compat.md is stale")
        return 0 if ok else 1
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
