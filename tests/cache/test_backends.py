"""The three cache backends honour one contract; each fails into "uncached", never into an error."""

from __future__ import annotations

import logging
import subprocess
import uuid
from pathlib import Path

import pytest
from redis_server import RedisProcess, free_port

from ogcserve.cache import CacheBackend, DiskBackend, Guarded, MemoryBackend, RedisBackend


@pytest.fixture(params=["memory", "disk", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> CacheBackend:
    if request.param == "memory":
        return MemoryBackend(1 << 20)
    if request.param == "disk":
        return DiskBackend(tmp_path / "cache")
    # A prefix per test: the tests share one Redis (started only for them).
    redis_process: RedisProcess = request.getfixturevalue("redis_process")
    return RedisBackend(redis_process.url, prefix=f"t{uuid.uuid4().hex}:")


def test_set_get_delete(backend: CacheBackend) -> None:
    assert backend.get("p/tile", "k") is None
    backend.set("p/tile", "k", b"\x89PNG")
    backend.set("p/tile", "k", b"second")
    assert backend.get("p/tile", "k") == b"second"
    assert backend.get("p/tile", "other") is None
    assert backend.get("q/tile", "k") is None
    backend.delete("p/tile", "k")
    assert backend.get("p/tile", "k") is None


def test_drop_removes_one_space_and_drop_tree_a_subtree(backend: CacheBackend) -> None:
    for space in ("p/tile/a/0/0/0", "p/tile/a/1/0/0", "p/tile/ab/0/0/0", "p/document", "q/tile"):
        backend.set(space, "k1", space.encode())
        backend.set(space, "k2", space.encode())
    backend.drop("p/tile/a/0/0/0")
    assert backend.get("p/tile/a/0/0/0", "k1") is None
    assert backend.get("p/tile/a/0/0/0", "k2") is None
    assert backend.get("p/tile/a/1/0/0", "k1") == b"p/tile/a/1/0/0"
    backend.drop_tree("p/tile/a")
    assert backend.get("p/tile/a/1/0/0", "k2") is None
    # "a" is not a prefix of "ab": only whole segments are.
    assert backend.get("p/tile/ab/0/0/0", "k1") == b"p/tile/ab/0/0/0"
    backend.drop_tree("p")
    assert backend.get("p/tile/ab/0/0/0", "k1") is None
    assert backend.get("p/document", "k2") is None
    assert backend.get("q/tile", "k1") == b"q/tile"


def test_names_with_odd_characters_stay_apart(backend: CacheBackend) -> None:
    backend.set("p/tile/..", "k", b"dots")
    backend.set("p/tile/*", "k", b"star")
    backend.set("p/tile/a b%2F", "k", b"space")
    assert backend.get("p/tile/..", "k") == b"dots"
    assert backend.get("p/tile/*", "k") == b"star"
    backend.drop_tree("p/tile/*")
    assert backend.get("p/tile/..", "k") == b"dots"
    assert backend.get("p/tile/a b%2F", "k") == b"space"


def test_memory_is_an_lru_bounded_by_bytes() -> None:
    cache = MemoryBackend(max_bytes=100)
    cache.set("s", "a", b"x" * 40)
    cache.set("s", "b", b"x" * 40)
    assert cache.get("s", "a") is not None  # a is now the most recently used
    cache.set("s", "c", b"x" * 40)
    assert cache.get("s", "b") is None
    assert cache.get("s", "a") is not None and cache.get("s", "c") is not None
    assert cache.size == 80
    cache.set("s", "huge", b"x" * 101)  # larger than the bound: not kept, nothing evicted
    assert cache.get("s", "huge") is None and cache.size == 80


def test_disk_survives_a_restart_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    DiskBackend(tmp_path).set("p/tile/roads", "k", b"tile")
    assert DiskBackend(tmp_path).get("p/tile/roads", "k") == b"tile"
    assert [p.name for p in (tmp_path / "p" / "tile" / "roads").iterdir()] == ["k"]


def test_disk_paths_stay_inside_the_root(tmp_path: Path) -> None:
    cache = DiskBackend(tmp_path / "root")
    cache.set("../../etc", "..", b"x")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all((tmp_path / "root") in p.parents for p in written)


def test_a_full_disk_is_skipped_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        cache = Guarded(DiskBackend(mount), retry_after=60)
        with caplog.at_level(logging.WARNING, "ogcserve.cache"):
            for n in range(10):
                cache.set("p/tile", f"k{n}", b"x" * 20_000)  # the fourth does not fit
        assert len([r for r in caplog.records if "fails" in r.message]) == 1
        assert cache.get("p/tile", "k0") is None  # skipped while failing: served uncached
        leftovers = [p.name for p in (mount / "p" / "tile").iterdir() if p.name.endswith(".tmp")]
        assert leftovers == []
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_redis_down_then_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server = RedisProcess(tmp_path)
    cache = Guarded(RedisBackend(server.url), retry_after=0.01)
    with caplog.at_level(logging.WARNING, "ogcserve.cache"):
        for _ in range(3):
            cache.set("p/tile", "k", b"v")  # nobody listens yet
            assert cache.get("p/tile", "k") is None
        assert not cache.healthy
        assert len([r for r in caplog.records if "fails" in r.message]) == 1
        server.start()
        try:
            for _ in range(200):  # the next call after retry_after tries Redis again
                cache.set("p/tile", "k", b"v")
                if cache.healthy:
                    break
            assert cache.get("p/tile", "k") == b"v"
            assert any("works again" in r.message for r in caplog.records)
        finally:
            server.stop()


def test_nothing_listening_costs_no_wait_after_the_first_failure() -> None:
    cache = Guarded(RedisBackend(f"redis://127.0.0.1:{free_port()}/0"), retry_after=3600)
    cache.get("p", "k")
    calls = []
    cache.inner = type("Spy", (), {"get": lambda *a: calls.append(a)})()  # type: ignore[assignment]
    assert cache.get("p", "k") is None and calls == []


@pytest.mark.parametrize("kind", ["disk", "redis"])
def test_a_lock_is_held_for_every_process_sharing_the_store(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Two backends over one store stand for two processes (flock holds between two opens of
    # the file, SET NX between two clients).
    if kind == "disk":
        first, second = DiskBackend(tmp_path / "cache"), DiskBackend(tmp_path / "cache")
    else:
        url = request.getfixturevalue("redis_process").url
        prefix = f"t{uuid.uuid4().hex}:"
        first, second = RedisBackend(url, prefix=prefix), RedisBackend(url, prefix=prefix)
    with first.lock("demo/countries/0", wait=1.0) as taken:
        assert taken
        with second.lock("demo/countries/0", wait=0.05) as waited:
            assert not waited  # held elsewhere: given up after the wait
        with second.lock("demo/countries/1", wait=0.05) as other:
            assert other  # another metatile: free
    with second.lock("demo/countries/0", wait=0.05) as again:
        assert again  # released


def test_a_failing_store_gives_no_lock_and_no_error(tmp_path: Path) -> None:
    dead = Guarded(RedisBackend(f"redis://127.0.0.1:{free_port()}/0"), retry_after=60)
    with dead.lock("demo/countries/0", wait=1.0) as taken:
        assert not taken
    with Guarded(MemoryBackend()).lock("x", wait=0) as taken:
        assert taken  # one process: the renderer's own lock is enough
