"""Finding and starting plugins, once per worker process, in this order:

1. folders: each sub-folder of a plugin path (`--plugins DIR`, OGCSERVE_PLUGINPATH,
   QGIS_PLUGINPATH) holding `__init__.py` and a `metadata.txt` whose `[general]` section says
   `server=True`; its `serverClassFactory(server_iface)` is called (QGIS's contract);
2. entry points of the group `ogcserve.plugins` (`pip install` a plugin): `setup(server_iface)`;
3. dotted paths `module:callable` from the settings and the projects.

A plugin that fails to import or to start is recorded with its traceback and skipped (what it
registered before failing is removed); the server starts anyway. A plugin found twice (two
folders, a folder and an entry point, one callable listed twice) is started once, and one that
registers nothing is loaded with a warning.
"""

from __future__ import annotations

import configparser
import difflib
import importlib
import importlib.metadata
import importlib.util
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ogcserve.plugins.filters import Hook
from ogcserve.plugins.interface import ServerInterface

if TYPE_CHECKING:
    from ogcserve.server import Server

log = logging.getLogger("ogcserve.plugins")

ENTRY_POINT_GROUP = "ogcserve.plugins"
InterfaceFactory = Callable[["Server", str], Any]


@dataclass
class PluginRecord:
    """What became of one plugin: loaded, failed (with the traceback) or skipped."""

    name: str
    origin: str  # folder, entry-point, setting, project
    location: str
    status: str = "loaded"
    error: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    instance: Any = field(default=None, repr=False)  # what serverClassFactory returned, kept alive


class PluginsFailedError(Exception):
    """Plugins failed to load where that is fatal (setting `plugin_errors_fatal`, reloads)."""

    def __init__(self, failed: Iterable[PluginRecord]) -> None:
        lines = []
        for record in failed:
            last = (record.error or "failed").strip().splitlines()[-1]
            lines.append(f"{record.name} ({record.location}): {last}")
        super().__init__("plugins failed to load: " + "; ".join(lines))


def plugin_folders(explicit: Iterable[Path], environ: Mapping[str, str]) -> list[Path]:
    """Plugin paths in priority order: explicit ones, OGCSERVE_PLUGINPATH, QGIS_PLUGINPATH."""
    paths = list(explicit)
    for variable in ("OGCSERVE_PLUGINPATH", "QGIS_PLUGINPATH"):
        paths += [Path(p) for p in environ.get(variable, "").split(os.pathsep) if p]
    return paths


def load_plugins(
    server: Server,
    folders: Iterable[Path],
    dotted: Iterable[tuple[str, str]] = (),
    *,
    entry_points: bool = True,
    interface: InterfaceFactory = ServerInterface,
    folder_interface: InterfaceFactory | None = None,
) -> list[PluginRecord]:
    """Discover and start every plugin; return one record per plugin found.

    `folder_interface` builds what a folder plugin's `serverClassFactory` receives (default:
    `interface`). It is called before the folder is imported, so that it can prepare the
    import: app.py passes the QGIS facade's, which installs the `qgis` import shim.
    """
    records: list[PluginRecord] = []
    # What is loaded already, by folder name and by `module:callable`: a plugin found twice is
    # started once (twice would register every filter twice), and the first one says why.
    by_name: dict[str, PluginRecord] = {}
    by_callable: dict[str, PluginRecord] = {}
    for folder in folders:
        for candidate in _folder_plugins(folder):
            first = by_name.get(candidate.name)
            if first is not None:  # the first path holding an id wins, as in QGIS
                _warn(first, f"found again in {candidate}, which is not loaded")
                continue
            record = _load_folder(server, candidate, folder_interface or interface)
            by_name[candidate.name] = record
            records.append(record)
    if entry_points:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            first = by_name.get(ep.name) or by_name.get(ep.module.partition(".")[0])
            if first is not None and first.origin == "folder":
                _warn(
                    first,
                    f"also installed as the entry point {ep.name} = {ep.value}, "
                    "which is not loaded",
                )
                continue
            record = _start(
                server, PluginRecord(ep.name, "entry-point", ep.value), ep.load, "setup", interface
            )
            by_callable[_callable_id(ep.value)] = record
            records.append(record)
    for origin, path in dotted:
        first = by_callable.get(_callable_id(path))
        if first is not None:
            # Two projects naming one plugin is normal; starting it a second time is not.
            if first.origin == "entry-point":
                _warn(first, f"also listed in the {origin} plugins as {path}, not loaded again")
            continue
        record = _start(
            server,
            PluginRecord(path, origin, path),
            partial(_import_callable, path),
            "setup",
            interface,
        )
        by_callable[_callable_id(path)] = record
        records.append(record)
    return records


def _callable_id(path: str) -> str:
    """`module:callable` with the default callable spelled out."""
    module, _, attribute = path.strip().partition(":")
    return f"{module.strip()}:{attribute.strip() or 'setup'}"


def _folder_plugins(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        log.warning("plugin path %s is not a folder", folder)
        return
    for child in sorted(folder.iterdir()):
        if (child / "__init__.py").is_file() and (child / "metadata.txt").is_file():
            yield child


def _load_folder(server: Server, folder: Path, interface: InterfaceFactory) -> PluginRecord:
    record = PluginRecord(folder.name, "folder", str(folder))
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(folder / "metadata.txt", encoding="utf-8")
        record.metadata = dict(parser["general"]) if parser.has_section("general") else {}
    except (configparser.Error, UnicodeDecodeError) as error:
        return _failed(record, f"metadata.txt cannot be read: {error}")
    flag = record.metadata.get("server", "")
    if flag != "True":
        if flag.strip().lower() != "true":
            record.status = "skipped"
            record.error = "metadata.txt does not say server=True"
            return record
        # QGIS accepts only the exact string "True"; we are lenient but say so.
        _warn(record, f"metadata.txt says server={flag}; QGIS Server only accepts server=True")

    server_iface = interface(server, record.name)  # before the import: see load_plugins

    def factory() -> Any:
        module = _import_folder(folder)
        return module.serverClassFactory

    return _start(server, record, factory, "serverClassFactory", lambda *_: server_iface)


def _import_folder(folder: Path) -> Any:
    # QGIS puts the plugin path on sys.path and imports the folder as a top-level package, so
    # plugins import their own modules as `from <folder>.x import y`; we do the same.
    parent = str(folder.parent)
    if parent not in sys.path:
        sys.path.append(parent)
    sys.modules.pop(folder.name, None)
    module = importlib.import_module(folder.name)
    if (folder / f"{folder.name}.py").is_file() and not hasattr(module, "__getattr__"):
        # Python 2 plugins (the QGIS 2 cookbook's HelloServer) write `from HelloServer import X`
        # inside the HelloServer package, meaning the sibling module HelloServer.py (an implicit
        # relative import); Python 3 looks X up on the package, so we resolve it there lazily.
        vars(module)["__getattr__"] = partial(_sibling_attribute, f"{folder.name}.{folder.name}")
    return module


def _sibling_attribute(module_name: str, attribute: str) -> Any:
    if attribute.startswith("__"):
        raise AttributeError(attribute)
    return getattr(importlib.import_module(module_name), attribute)


def _import_callable(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute or "setup")


def _start(
    server: Server,
    record: PluginRecord,
    load: Callable[[], Any],
    what: str,
    interface: InterfaceFactory,
) -> PluginRecord:
    """Import (via `load`) and call the plugin's entry; on failure undo its registrations."""
    try:
        entry = load()
    except BaseException as error:  # a plugin's import may even call sys.exit
        if isinstance(error, KeyboardInterrupt):
            raise
        return _failed(record, traceback.format_exc(), unload=record.name)
    try:
        record.instance = entry(interface(server, record.name))
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            raise
        _unregister(server, record.name)
        return _failed(record, f"{what}() failed:\n{traceback.format_exc()}", unload=record.name)
    for message in _hook_typos(server, record.name):
        _warn(record, message)
    if not _registered_anything(server, record.name):
        _warn(
            record,
            f"{what}() registered nothing (no filter, service, access control, "
            "cache filter or route): the plugin has no effect",
        )
    log.info("plugin %s loaded (%s)", record.name, record.origin)
    return record


def _failed(record: PluginRecord, error: str, unload: str | None = None) -> PluginRecord:
    record.status, record.error = "failed", error
    if unload and record.origin == "folder":
        sys.modules.pop(unload, None)
    log.error("plugin %s failed and is skipped: %s", record.name, error)
    return record


def _warn(record: PluginRecord, message: str) -> None:
    record.warnings.append(message)
    log.warning("plugin %s: %s", record.name, message)


def _unregister(server: Server, owner: str) -> None:
    for registry in (server.filters, server.access_controls, server.caches):
        registry.remove_owner(owner)
    server.services.remove_owner(owner)


def _registered_anything(server: Server, owner: str) -> bool:
    registries = (server.filters, server.access_controls, server.caches)
    return server.services.registered_by(owner) or any(
        entry.owner == owner for registry in registries for entry in registry
    )


def _hook_typos(server: Server, owner: str) -> Iterator[str]:
    """Methods that look like a hook but are not one: QGIS ignores them silently, we warn."""
    hooks = [h.value for h in Hook]
    for entry in server.filters:
        if entry.owner != owner:
            continue
        for name in dir(entry.item):
            if name.startswith("_") or name in hooks:
                continue
            squashed = name.lower().replace("_", "")
            close = difflib.get_close_matches(name, hooks, n=1, cutoff=0.85) or [
                h for h in hooks if squashed in (h.replace("_", ""), h[3:].replace("_", ""))
            ]
            if close and not _is_qgis_hook(name):
                yield f"{type(entry.item).__name__}.{name} looks like the hook {close[0]}"


def _is_qgis_hook(name: str) -> bool:
    # The QGIS spellings are legitimate: the compatibility facade maps them onto our hooks.
    return name in {
        "requestReady",
        "responseComplete",
        "sendResponse",
        "onRequestReady",
        "onProjectReady",
        "onResponseComplete",
        "onSendResponse",
    }
