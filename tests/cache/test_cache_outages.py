"""A server whose cache fails keeps answering: Redis down (tiles drawn uncached, one warning,
cached again once Redis is back) and a full disk cache directory (served uncached, no error).
The capabilities documents are kept in the chosen backend too."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest
from redis_server import RedisProcess

from ogcserve.testing import call, make_server

TILE = "/wmts/demo/countries/default/WebMercatorQuad/2/1/1.png"


def test_redis_down_serves_uncached_warns_once_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    redis = RedisProcess(tmp_path)  # not started yet
    server = make_server(cache_backend="redis", cache_redis_url=redis.url, cache_retry_after=0.01)
    try:
        with caplog.at_level(logging.WARNING, "ogcserve.cache"):
            for _ in range(3):
                result = call(server, TILE)
                assert result.status == 200 and result.headers["X-Cache"] == "MISS"
                caps = call(server, "/ows?SERVICE=WMTS&REQUEST=GetCapabilities")
                assert caps.status == 200
        assert len([r for r in caplog.records if "fails" in r.message]) == 1
        redis.start()
        try:
            states = [call(server, TILE).headers["X-Cache"] for _ in range(50)]
            assert states[-1] == "HIT"  # stored again, then served from Redis
            assert any("works again" in r.message for r in caplog.records)
        finally:
            redis.stop()
    finally:
        server.close()


def test_a_full_disk_cache_serves_uncached(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    server = make_server(cache_backend="disk", cache_dir=mount, cache_retry_after=0.01)
    try:
        for z, row, col in [(2, 1, 1), (3, 2, 2), (3, 5, 5), (2, 1, 1)]:
            url = f"/wmts/demo/countries/default/WebMercatorQuad/{z}/{row}/{col}.png"
            assert call(server, url).status == 200
            assert call(server, f"{url[:-4]}.jpg").status == 200
    finally:
        server.close()
        subprocess.run(["umount", str(mount)], check=True)


def test_capabilities_are_cached_in_the_chosen_backend(tmp_path: Path) -> None:
    server = make_server(cache_backend="disk", cache_dir=tmp_path)
    try:
        urls = (
            "/ows?SERVICE=WMS&REQUEST=GetCapabilities",
            "/ows?SERVICE=WMTS&REQUEST=GetCapabilities",
            "/wmts/demo/1.0.0/WMTSCapabilities.xml",  # RESTful: cached as the KVP one
        )
        for url in urls:
            first = call(server, url)
            again = call(server, url)
            assert first.status == again.status == 200 and first.body == again.body
        documents = list((tmp_path / "demo" / "document").iterdir())
        assert len(documents) == 3
    finally:
        server.close()
