"""How the soak judges an answer: `expect` (status, content type, nothing hidden from a
non-admin) and the `UnexpectedError` it raises; shared by bench/soak.py and its modules."""

from __future__ import annotations

import random

import httpx


class UnexpectedError(Exception):
    """An answer the soak did not expect (wrong status, type or content)."""


def expect(
    response: httpx.Response,
    content_type: str,
    role: str,
    *,
    hidden: bool = True,
    status: int = 200,
) -> None:
    if response.status_code != status:
        raise UnexpectedError(f"HTTP {response.status_code}: {response.text[:300]!r}")
    got = response.headers.get("content-type", "")
    if not got.startswith(content_type):
        raise UnexpectedError(f"content type {got!r}, wanted {content_type!r}")
    if hidden and role != "admin" and b"pop_est" in response.content:
        raise UnexpectedError(f"pop_est shown to {role}")


def random_bbox(rng: random.Random) -> tuple[float, float, float, float]:
    width = rng.choice((360.0, 90.0, 20.0, 2.0))
    x = rng.uniform(-180, 180 - width)
    y = rng.uniform(-90, 90 - width / 2)
    return x, y, x + width, y + width / 2
