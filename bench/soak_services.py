"""The soak's operations beyond WMS and WFS: OGC API - Features (reads, filters and Part 4
edits), WCS GetCoverage 1.0 and 2.0, and tiles (WMTS KVP and RESTful, OGC API - Tiles, XYZ),
each as hits (a few tiles asked again and again) and misses (tiles drawn at random from deep
levels), on two servers: the soak's own (disk cache) and a second one with the Redis cache.

Every answer is checked as `bench/soak.py` checks its own: status, content type, nothing of
`pop_est` or of another role's rows for a non-admin, `nc_counties` absent for anonymous.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import httpx
from soak_checks import UnexpectedError, expect

Operation = tuple[str, int, Callable[[httpx.Client, str], int | None]]
CITIES = 243  # features of the demo's `cities` (ids 1..243)
# z/row/col of the tiles asked again and again (levels 0-2 of WebMercatorQuad): cache hits.
HITS = [(0, 0, 0), (1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1), (2, 1, 2), (2, 1, 1)]
FILTERS = (
    "continent = 'Europe'",
    "name LIKE 'A%'",
    "S_INTERSECTS(geom, BBOX(-10, 35, 30, 60))",
    "continent = 'Africa' AND name > 'M'",
)


class ServiceLoad:
    """OGC API - Features, WCS and tiles; `tile_urls` are the servers tiles are asked of (the
    first with the disk cache, the second with Redis)."""

    def __init__(
        self, url: str, tile_urls: list[str], rng: random.Random, name: Callable[[str], str]
    ) -> None:
        self.url = url
        self.api = f"{url}/ogcapi/demo"
        self.edits = f"{url}/ogcapi/edits/collections/sites/items"
        self.tile_urls = tile_urls
        self.rng = rng
        self.name = name

    def operations(self) -> list[Operation]:
        return [
            ("OGC API items", 4, self.items),
            ("OGC API item", 3, self.item),
            ("OGC API queryables", 1, self.queryables),
            ("OGC API filter", 3, self.filtered),
            ("OGC API edit (POST+PUT+PATCH+DELETE)", 2, self.edit),
            ("OGC API edit refused", 1, self.edit_refused),
            ("WCS 1.0 GetCoverage", 2, self.coverage_10),
            ("WCS 2.0 GetCoverage", 2, self.coverage_20),
            ("tiles WMTS KVP", 3, self.wmts_kvp),
            ("tiles WMTS REST", 3, self.wmts_rest),
            ("tiles OGC API", 3, self.ogcapi_tile),
            ("tiles XYZ", 3, self.xyz),
        ]

    # --- OGC API - Features ---------------------------------------------------------------

    def _features(self, r: httpx.Response, role: str, collection: str) -> list[dict[str, object]]:
        expect(r, "application/geo+json", role)
        features: list[dict[str, object]] = r.json()["features"]
        if collection == "countries" and role != "admin":
            for f in features:
                props = f["properties"]
                assert isinstance(props, dict)
                if props.get("continent") not in ("Africa", "Europe"):
                    raise UnexpectedError(f"row filter not applied for {role}")
        return features

    def _collection(self, role: str) -> str:
        choices = ["countries", "cities", "nyc_boroughs", "nc_counties"]
        return self.rng.choice(choices if role != "anonymous" else choices[:3])

    def items(self, client: httpx.Client, role: str) -> int | None:
        collection = self._collection(role)
        params = {"limit": str(self.rng.choice((5, 50, 200)))}
        if self.rng.random() < 0.5:
            x, y = self.rng.uniform(-180, 140), self.rng.uniform(-90, 50)
            params["bbox"] = f"{x},{y},{x + 40},{y + 40}"
        r = client.get(
            f"{self.api}/collections/{collection}/items", params=params, headers={"X-Role": role}
        )
        self._features(r, role, collection)
        if role == "anonymous":  # a hidden collection does not exist for them
            r = client.get(f"{self.api}/collections/nc_counties/items", headers={"X-Role": role})
            expect(r, "application/", role, status=404)
        return None

    def item(self, client: httpx.Client, role: str) -> int | None:
        fid = self.rng.randint(1, CITIES)
        r = client.get(f"{self.api}/collections/cities/items/{fid}", headers={"X-Role": role})
        expect(r, "application/geo+json", role)
        if r.json().get("id") != fid or not r.headers.get("etag"):
            raise UnexpectedError(f"item {fid}: {r.text[:200]!r}")
        return None

    def queryables(self, client: httpx.Client, role: str) -> int | None:
        r = client.get(f"{self.api}/collections/countries/queryables", headers={"X-Role": role})
        expect(r, "application/schema+json", role)
        if (role == "admin") != ("pop_est" in r.json().get("properties", {})):
            raise UnexpectedError(f"queryables wrong for {role}")
        return None

    def filtered(self, client: httpx.Client, role: str) -> int | None:
        params = {"filter": self.rng.choice(FILTERS), "limit": "100"}
        r = client.get(
            f"{self.api}/collections/countries/items", params=params, headers={"X-Role": role}
        )
        self._features(r, role, "countries")
        if role != "admin":  # a hidden attribute is an unknown property
            params["filter"] = "pop_est > 1000000"
            r = client.get(
                f"{self.api}/collections/countries/items", params=params, headers={"X-Role": role}
            )
            # refused as a name that does not exist (the request's own text echoed, no value)
            expect(r, "application/", role, status=400, hidden=False)
            unknown = r.text.replace("pop_est", "no_such_field")
            params["filter"] = "no_such_field > 1000000"
            r = client.get(
                f"{self.api}/collections/countries/items", params=params, headers={"X-Role": role}
            )
            expect(r, "application/", role, status=400, hidden=False)
            if r.text != unknown:
                raise UnexpectedError(f"a hidden name refused unlike an unknown one: {unknown!r}")
        return None

    def _site(self, name: str) -> bytes:
        x, y = self.rng.uniform(-170, 170), self.rng.uniform(-80, 80)
        feature = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [x, y]},
            "properties": {"name": name},
        }
        return json.dumps(feature).encode()

    def edit(self, client: httpx.Client, role: str) -> int | None:
        role = "admin" if role == "admin" else "user"
        name = self.name(role)
        headers = {"X-Role": role, "Content-Type": "application/geo+json"}
        r = client.post(self.edits, content=self._site(name), headers=headers)
        expect(r, "", role, status=201)
        location = r.headers.get("location", "")
        if "/items/" not in location:
            raise UnexpectedError(f"POST gave no Location: {dict(r.headers)!r}")
        item = f"{self.edits}/{location.rsplit('/', 1)[1]}"
        r = client.put(
            item,
            content=self._site(f"{name}-r"),
            headers={**headers, "If-Match": r.headers["etag"]},
        )
        expect(r, "", role, status=204)
        patch = json.dumps({"properties": {"name": f"{name}-p"}}).encode()
        r = client.patch(
            item,
            content=patch,
            headers={**headers, "Content-Type": "application/merge-patch+json"},
        )
        expect(r, "", role, status=204)
        r = client.get(item, headers={"X-Role": role})
        expect(r, "application/geo+json", role)
        if r.json()["properties"].get("name") != f"{name}-p":
            raise UnexpectedError(f"PATCH not applied: {r.text[:200]!r}")
        r = client.delete(item, headers={"X-Role": role})
        expect(r, "", role, status=204)
        r = client.get(item, headers={"X-Role": role})
        expect(r, "application/", role, status=404)
        return None

    def edit_refused(self, client: httpx.Client, role: str) -> int:
        # anonymous may not edit; user may not create a site it could not edit afterwards
        role = "anonymous" if role != "user" else "user"
        name = "not-mine" if role == "user" else self.name(role)
        headers = {"X-Role": role, "Content-Type": "application/geo+json"}
        r = client.post(self.edits, content=self._site(name), headers=headers)
        expect(r, "application/", role, status=403)
        return r.status_code

    # --- WCS ------------------------------------------------------------------------------

    def _window(self) -> tuple[float, float, float, float]:
        """A window of the elevation model (Luxembourg: 5.74-6.53 E, 49.44-50.19 N), sometimes
        past its edge, never wholly outside it (that is a 400)."""
        w = self.rng.uniform(0.05, 0.9)
        x, y = self.rng.uniform(5.7, 6.45), self.rng.uniform(49.42, 50.1)
        return x, y, x + w, y + w * 0.8

    def coverage_10(self, client: httpx.Client, role: str) -> int | None:
        x0, y0, x1, y1 = self._window()
        fmt = self.rng.choice(("GeoTIFF", "image/png"))
        r = client.get(
            f"{self.url}/ows/demo",
            headers={"X-Role": role},
            params={
                "SERVICE": "WCS",
                "VERSION": "1.0.0",
                "REQUEST": "GetCoverage",
                "COVERAGE": "elevation",
                "CRS": "EPSG:4326",
                "BBOX": f"{x0},{y0},{x1},{y1}",
                "WIDTH": str(self.rng.choice((32, 100, 256))),
                "HEIGHT": str(self.rng.choice((32, 100, 256))),
                "FORMAT": fmt,
            },
        )
        expect(r, "image/", role, hidden=False)
        return None

    def coverage_20(self, client: httpx.Client, role: str) -> int | None:
        x0, y0, x1, y1 = self._window()
        params = [
            ("SERVICE", "WCS"),
            ("VERSION", "2.0.1"),
            ("REQUEST", "GetCoverage"),
            ("COVERAGEID", "elevation"),
            ("SUBSET", f"Long({x0},{x1})"),
            ("SUBSET", f"Lat({y0},{y1})"),
        ]
        if self.rng.random() < 0.5:
            params.append(("OUTPUTCRS", "http://www.opengis.net/def/crs/EPSG/0/3857"))
            params.append(("SCALESIZE", "E(128),N(128)"))
        r = client.get(f"{self.url}/ows/demo", headers={"X-Role": role}, params=params)
        expect(r, "image/tiff", role, hidden=False)
        return None

    # --- tiles ----------------------------------------------------------------------------

    def _tile(self, role: str) -> tuple[str, str, int, int, int]:
        """(server, layer, z, row, col): a hit two times in three, else a likely miss."""
        server = self.rng.choice(self.tile_urls)
        layers = ["countries", "cities", "demo", "elevation"]
        layer = self.rng.choice(layers if role == "anonymous" else [*layers, "nc_counties"])
        if self.rng.random() < 2 / 3:
            z, row, col = self.rng.choice(HITS)
        else:
            z = self.rng.randint(5, 12)
            row, col = self.rng.randrange(2**z), self.rng.randrange(2**z)
        return server, layer, z, row, col

    def _png(self, r: httpx.Response, role: str) -> None:
        expect(r, "image/png", role, hidden=False)
        if not r.content.startswith(b"\x89PNG"):
            raise UnexpectedError("not a PNG")

    def _hidden(self, client: httpx.Client, server: str, role: str, status: int) -> None:
        """An anonymous caller asks for nc_counties: refused, 403 in WMTS, 404 (as a layer that
        does not exist) in XYZ."""
        if role != "anonymous":
            return
        if status == 404:
            path = "tiles/demo/nc_counties/1/0/0.png"
        else:
            path = "wmts/demo/nc_counties/default/WebMercatorQuad/1/0/0.png"
        r = client.get(f"{server}/{path}", headers={"X-Role": role})
        if r.status_code != status:
            raise UnexpectedError(f"hidden layer: HTTP {r.status_code} {r.text[:200]!r}")

    def wmts_kvp(self, client: httpx.Client, role: str) -> int | None:
        server, layer, z, row, col = self._tile(role)
        r = client.get(
            f"{server}/ows/demo",
            headers={"X-Role": role},
            params={
                "SERVICE": "WMTS",
                "VERSION": "1.0.0",
                "REQUEST": "GetTile",
                "LAYER": layer,
                "STYLE": "default",
                "TILEMATRIXSET": "WebMercatorQuad",
                "TILEMATRIX": str(z),
                "TILEROW": str(row),
                "TILECOL": str(col),
                "FORMAT": "image/png",
            },
        )
        self._png(r, role)
        return None

    def wmts_rest(self, client: httpx.Client, role: str) -> int | None:
        server, layer, z, row, col = self._tile(role)
        r = client.get(
            f"{server}/wmts/demo/{layer}/default/WebMercatorQuad/{z}/{row}/{col}.png",
            headers={"X-Role": role},
        )
        self._png(r, role)
        self._hidden(client, server, role, 403)
        return None

    def ogcapi_tile(self, client: httpx.Client, role: str) -> int | None:
        server, layer, z, row, col = self._tile(role)
        base = f"{server}/ogcapi/demo"
        path = "map" if layer == "demo" else f"collections/{layer}/map"
        r = client.get(
            f"{base}/{path}/tiles/WebMercatorQuad/{z}/{row}/{col}",
            params={"f": "png"},
            headers={"X-Role": role},
        )
        self._png(r, role)
        return None

    def xyz(self, client: httpx.Client, role: str) -> int | None:
        server, layer, z, row, col = self._tile(role)
        r = client.get(f"{server}/tiles/demo/{layer}/{z}/{col}/{row}.png", headers={"X-Role": role})
        self._png(r, role)
        self._hidden(client, server, role, 404)
        return None
