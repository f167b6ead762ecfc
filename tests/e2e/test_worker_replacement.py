"""A worker killed under load is replaced, and the replacement is handed no connection before
its application has started: while it loads, the other worker answers everything.

The replacement is held at its start for as long as the test wants (a plugin waits while a
gate file exists), so the check needs no clock: every request sent while it is held must be
answered, and by the surviving worker, before the gate opens. A connection handed to the held
worker would wait for the gate, which the test only opens afterwards.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from ogcserve.cli import demo_project
from ogcserve.http import dispatch
from ogcserve.testing import exited, serve_process

pytestmark = pytest.mark.skipif(not dispatch.SUPPORTED, reason="the dispatcher needs epoll")

PLUGINS = Path(__file__).with_name("plugins_gated")
CAPABILITIES = "/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities"
HANG = 60.0  # far longer than an answer takes, even on a busy machine
WAITS = 600.0  # how long a load request waits: a request handed to the held worker hangs


def worker(url: str, timeout: float = HANG) -> int:
    """The pid of the worker that answered, on a connection of its own."""
    response = httpx.get(url + CAPABILITIES, timeout=timeout)
    assert response.status_code == 200, response.text
    return int(response.headers["X-Worker"])


def wait(condition: object, timeout: float = 120.0) -> bool:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_replacement_takes_connections_only_once_it_is_ready(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    env = {**os.environ, "OGCSERVE_TEST_GATE": str(gate)}
    with serve_process(demo_project(), "--plugins", PLUGINS, workers=2, env=env) as url:
        # Both first workers serve (new connections go round the idle ones).
        seen: set[int] = set()
        assert wait(lambda: seen.add(worker(url)) or len(seen) == 2)
        victim, survivor = sorted(seen)

        gate.touch()  # from now on a starting worker is held before it is ready
        dead = threading.Event()
        outcomes: list[tuple[bool, object]] = []  # (sent once the victim was dead, outcome)
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                sent_after_death = dead.is_set()
                try:
                    outcome: object = worker(url, timeout=WAITS)
                except (httpx.HTTPError, AssertionError) as error:
                    outcome = error
                outcomes.append((sent_after_death, outcome))

        threads = [threading.Thread(target=load) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            os.kill(victim, signal.SIGKILL)
            assert wait(lambda: exited(victim))
            dead.set()  # requests in flight on the victim are lost, as with any crash
            # The replacement is started and held at its start.
            assert wait(lambda: any(tmp_path.glob("gate.*")))
            (held,) = [int(p.suffix[1:]) for p in tmp_path.glob("gate.*")]
            assert held not in (victim, survivor)
            assert wait(lambda: sum(after for after, _ in outcomes) >= 30)
        finally:
            stop.set()
            # Every request is answered while the replacement is still held: one handed to
            # it waits for the gate (its client waits far longer than this join).
            for thread in threads:
                thread.join(HANG)
            stuck = sum(thread.is_alive() for thread in threads)
            gate.unlink()
            for thread in threads:
                thread.join(WAITS)
        assert not stuck, f"{stuck} request(s) handed to the worker that was still starting"
        assert held not in [outcome for _, outcome in outcomes], "the held worker answered"
        after = [outcome for after, outcome in outcomes if after]
        assert all(outcome == survivor for outcome in after), after[:5]

        # Once it is ready, the replacement serves too.
        assert wait(lambda: worker(url) == held)
