"""Three ogcserve hosts behind Debian's nginx, sharing one Redis and one PostGIS (issue 18).

The hosts are separate `ogcserve serve` processes (one worker each) bound to 127.0.0.2,
127.0.0.3 and 127.0.0.4; nginx balances over them with deploy/nginx/ogcserve.conf, the example
docs/deploy.md shows (tests/lb_cluster.py). The PostGIS is a cluster of the test's own
(tests/pg_cluster.py), so that it can be restarted mid-load; the Redis is a private
redis-server, so that its command statistics are this test's alone.

Checked: a WFS-T edit through one host is seen through the others; a cached capabilities
document written by one host is read by another (Redis counts the read as a hit and no second
write); killing a host mid-load costs at most its in-flight requests (nginx tries the next host
for GETs); a rolling reload of the three loses no request; PostGIS restarted mid-load costs
clean 503 exception reports, and requests succeed again without restarting anything.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import lb_cluster
import pg_cluster
import psycopg
import pytest
import redis

from ogcserve.cli import demo_project
from ogcserve.http import dispatch

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(lb_cluster.nginx_binary() is None, reason="nginx is not installed"),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is absent"),
    pytest.mark.skipif(not dispatch.SUPPORTED, reason="reloads need Linux (epoll)"),
]

NS = {"wfs": "http://www.opengis.net/wfs/2.0", "fes": "http://www.opengis.net/fes/2.0"}
HITS = "/ows/edit?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=parcels&RESULTTYPE=hits"
PG_FEATURES = "/ows/edit?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=parcels&COUNT=10"
CAPABILITIES = "/ows/demo?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities"
GETMAP = (
    "/ows/demo?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES=&CRS=EPSG:4326"
    "&BBOX=40,-5,55,15&WIDTH=256&HEIGHT=256&FORMAT=image/png"
)
HANG = 60.0


@dataclass
class Cluster:
    hosts: list[lb_cluster.Host]
    nginx: lb_cluster.Nginx
    redis: lb_cluster.Redis
    postgis: pg_cluster.OwnPostgres


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    root = lb_cluster.temporary_root()
    with pg_cluster.own_postgres() as pg:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE parcels (fid serial PRIMARY KEY, name text NOT NULL,"
                " geom geometry(Point, 4326))"
            )
            conn.execute(
                "INSERT INTO parcels (name, geom) SELECT 'parcel ' || g,"
                " ST_SetSRID(ST_MakePoint(g % 50, g / 50), 4326) FROM generate_series(1, 500) g"
            )
        project = root / "edit.yaml"
        project.write_text(
            "name: edit\ntitle: edit\nlayers:\n  - name: parcels\n    title: Parcels\n"
            f"    source: {{type: postgis, dsn: '{pg.dsn}', table: parcels}}\n"
            "    wfs: {insert: true, update: true, delete: true}\n"
        )
        store = lb_cluster.Redis()
        store.start()
        env = {
            **os.environ,
            "OGCSERVE_CACHE_BACKEND": "redis",
            "OGCSERVE_CACHE_REDIS_URL": store.url,
            "OGCSERVE_SOURCE_CONNECT_TIMEOUT": "2",
            "OGCSERVE_SOURCE_QUEUE_TIMEOUT": "2",
            "OGCSERVE_SOURCE_RETRY_AFTER": "2",
        }
        port = lb_cluster.free_port(lb_cluster.ADDRESSES[0])
        hosts = [
            lb_cluster.Host(root, address, port, [demo_project(), project], env)
            for address in lb_cluster.ADDRESSES
        ]
        nginx = lb_cluster.Nginx(
            root, [f"{h.address}:{h.port}" for h in hosts], lb_cluster.free_port()
        )
        try:
            for host in hosts:
                host.start()
            nginx.start()
            yield Cluster(hosts, nginx, store, pg)
        finally:
            nginx.stop()
            for host in hosts:
                host.stop()
            store.stop()
            shutil.rmtree(root, ignore_errors=True)


class Load:
    """Clients sending `paths` in turn through `url`, a new connection per request."""

    def __init__(self, url: str, paths: tuple[str, ...], clients: int = 4) -> None:
        self.url, self.paths = url, paths
        self.outcomes: list[tuple[str, int | Exception, bytes]] = []
        self.phase = "before"
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def _run(self) -> None:
        while not self._stop.is_set():
            for path in self.paths:
                phase = self.phase
                try:
                    response = httpx.get(self.url + path, timeout=HANG)
                    outcome: tuple[str, int | Exception, bytes] = (
                        phase if phase == self.phase else "changing",
                        response.status_code,
                        response.content,
                    )
                except httpx.HTTPError as error:
                    outcome = (phase if phase == self.phase else "changing", error, b"")
                self.outcomes.append(outcome)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(HANG)

    def count(self, phase: str | None = None) -> int:
        return sum(1 for o in self.outcomes if phase is None or o[0] == phase)

    def failures(self) -> list[tuple[str, int | Exception, bytes]]:
        return [o for o in self.outcomes if o[1] != 200]


def wait_for(condition: Callable[[], bool], timeout: float = HANG) -> bool:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if condition():
            return True
        time.sleep(0.1)
    return False


def matched(url: str) -> int:
    response = httpx.get(url + HITS, timeout=HANG)
    assert response.status_code == 200, response.text
    found = re.search(r'numberMatched="(\d+)"', response.text)
    assert found, response.text[:500]
    return int(found.group(1))


def test_a_wfs_t_edit_through_one_host_is_seen_through_the_others(cluster: Cluster) -> None:
    first, *others = cluster.hosts
    before = {h.address: matched(h.url) for h in cluster.hosts}
    assert len(set(before.values())) == 1
    body = (
        f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{NS["wfs"]}" '
        'xmlns:gml="http://www.opengis.net/gml/3.2" xmlns:e="https://ogcserve.org/edit">'
        "<wfs:Insert><e:parcels><e:name>inserted through one host</e:name>"
        '<e:geom><gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>5 5</gml:pos>'
        "</gml:Point></e:geom></e:parcels></wfs:Insert></wfs:Transaction>"
    )
    response = httpx.post(
        first.url + "/ows/edit", content=body, headers={"Content-Type": "text/xml"}, timeout=HANG
    )
    assert response.status_code == 200, response.text
    assert "totalInserted>1<" in response.text.replace("wfs:", "")
    count = before[first.address] + 1
    for host in others:
        assert matched(host.url) == count, host.address
    for _ in range(3):  # through the balancer, whichever host answers
        assert matched(cluster.nginx.url) == count


def test_a_cached_document_is_reused_across_hosts(cluster: Cluster) -> None:
    store = redis.Redis.from_url(cluster.redis.url)
    # The same advertised host on every request: the key is the same on every host.
    headers = {"Host": "maps.example.org", "X-Forwarded-Proto": "https"}
    query = CAPABILITIES + "&_probe=reuse"

    def calls(command: str) -> int:
        return int(store.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))

    first, second, third = cluster.hosts
    writes, reads = calls("hset"), calls("hget")
    written = httpx.get(first.url + query, headers=headers, timeout=HANG)
    assert written.status_code == 200
    assert calls("hset") == writes + 1, "the first host stores the document in Redis"
    writes, reads = calls("hset"), calls("hget")
    for host in (second, third):
        answer = httpx.get(host.url + query, headers=headers, timeout=HANG)
        assert answer.status_code == 200 and answer.content == written.content
    # Each other host looked the document up and found it: a miss would have stored it again.
    assert calls("hget") >= reads + 2
    assert calls("hset") == writes, "another host drew and stored the document again"
    assert b"https://maps.example.org/ows/demo" in written.content


def test_the_advertised_urls_through_nginx_follow_the_forwarded_headers(cluster: Cluster) -> None:
    answer = httpx.get(cluster.nginx.url + CAPABILITIES, timeout=HANG)
    assert answer.status_code == 200
    resource = f'xlink:href="http://127.0.0.1:{cluster.nginx.port}/maps/ows/demo?'
    assert resource in answer.text
    landing = httpx.get(cluster.nginx.url + "/ogcapi/demo?f=json", timeout=HANG)
    if landing.status_code == 200:
        hrefs = [link["href"] for link in landing.json()["links"]]
        assert all(h.startswith(f"http://127.0.0.1:{cluster.nginx.port}/maps/") for h in hrefs)


def test_killing_one_host_mid_load_costs_only_its_in_flight_requests(cluster: Cluster) -> None:
    victim = cluster.hosts[2]
    clients = 4
    with Load(cluster.nginx.url, (GETMAP, CAPABILITIES), clients) as load:
        assert wait_for(lambda: load.count() >= 40)
        load.phase = "killed"
        victim.kill()
        assert wait_for(lambda: load.count("killed") >= 60)
        load.phase = "restarting"
        victim.start()
        load.phase = "after"
        assert wait_for(lambda: load.count("after") >= 40)
    failures = load.failures()
    # nginx tries the next host for a GET whose host died before answering: at most the
    # requests in flight on the victim fail (one per client), and nothing after.
    assert len(failures) <= clients, failures[:5]
    assert all(o[0] in ("changing", "killed") for o in failures), failures[:5]
    assert load.count() > len(failures) + 100


def test_a_rolling_reload_of_the_three_loses_no_request(cluster: Cluster) -> None:
    before = {h.address: h.process.pid for h in cluster.hosts if h.process is not None}
    with Load(cluster.nginx.url, (GETMAP, CAPABILITIES, PG_FEATURES)) as load:
        assert wait_for(lambda: load.count() >= 30)
        for host in cluster.hosts:
            done = host.reload()
            assert done.returncode == 0, done.stderr
            assert "reloaded" in done.stdout
            seen = load.count()
            assert wait_for(lambda seen=seen: load.count() >= seen + 15)  # type: ignore[misc]
    assert load.failures() == []
    assert load.count() >= 75
    # The same host processes, with new workers.
    assert {h.address: h.process.pid for h in cluster.hosts if h.process} == before


def test_postgis_restarted_mid_load_through_the_balancer(cluster: Cluster) -> None:
    with Load(cluster.nginx.url, (PG_FEATURES,)) as load:
        assert wait_for(lambda: load.count("before") >= 20)
        load.phase = "down"
        cluster.postgis.stop()
        try:
            assert wait_for(lambda: any(o[1] == 503 for o in load.outcomes))
            assert wait_for(lambda: load.count("down") >= 20)
        finally:
            load.phase = "restarting"
            cluster.postgis.start()
        assert wait_for(lambda: [o[1] for o in load.outcomes[-15:]] == [200] * 15)
        load.phase = "after"
        assert wait_for(lambda: load.count("after") >= 30)
    statuses = {o[1] if isinstance(o[1], int) else type(o[1]).__name__ for o in load.outcomes}
    assert statuses <= {200, 503}, statuses
    for _phase, status, body in load.outcomes:
        if status == 503:
            assert b"ExceptionReport" in body and b"Traceback" not in body, body[:300]
    assert {o[1] for o in load.outcomes if o[0] in ("before", "after")} == {200}
