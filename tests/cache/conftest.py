"""Backends for the cache tests: memory, disk, and a private Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis_server import RedisProcess


@pytest.fixture(scope="session")
def redis_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path_factory.mktemp("redis"))
    process.start()
    yield process
    process.stop()
