"""A Redis that is down: the server stays ready, answers uncached, and the metrics count the
misses and the failures."""

from __future__ import annotations

from pathlib import Path

from redis_server import RedisProcess

from ogcserve.testing import client, make_server


def test_redis_down_keeps_the_server_ready_and_counts_the_misses(tmp_path: Path) -> None:
    redis = RedisProcess(tmp_path)  # never started: nothing listens on its port
    server = make_server(cache_backend="redis", cache_redis_url=redis.url, cache_retry_after=60)
    http = client(server)
    try:
        caps = "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities"
        for _ in range(3):
            assert http.get(caps).status_code == 200
        ready = http.get("/ready")
        assert ready.status_code == 200
        assert ready.json()["cache"] == {"backend": "redis", "working": False}
        text = http.get("/metrics").text
        assert 'ogcserve_cache_misses_total{backend="redis"} 3.0' in text
        assert 'ogcserve_cache_errors_total{backend="redis"}' in text
        assert 'ogcserve_cache_hits_total{backend="redis"}' not in text
    finally:
        server.close()
