"""What the test plugins do to a response, by name (shared by the native and the QGIS one).

Each plugin reads its parameter (BREAK, QBREAK) and does the misdeed so named: a status, a
header or a body the HTTP layer cannot send, or raising (`raise:<hook>`, `exit:<hook>`).
"""

from typing import Any

SECRET = "unruly-internal-detail"

STATUSES: dict[str, Any] = {
    "status999": 999,
    "status599": 599,
    "status204": 204,
    "status42": 42,
    "status100": 100,
    "status1000": 1000,
    "status_text": "200",
    "status_none": None,
}
HEADERS: dict[str, tuple[Any, Any]] = {
    "header_newline": ("X-Note", "a\r\nX-Injected: 1"),
    "header_nul": ("X-Note", "a\x00b"),
    "header_name_space": ("Bad Name", "x"),
    "header_name_colon": ("X-A:B", "x"),
    "header_unicode": ("X-City", "\u5317\u4eac"),
    "header_number": ("X-Count", 3),
    "header_transfer_encoding": ("Transfer-Encoding", "chunked"),
}
BODIES: dict[str, Any] = {
    "body_dict": {"a": 1},
    "body_none": None,
    "body_int": 7,
    "body_str": "plain text",
}


def misbehave(what: str, hook: str) -> None:
    """Raise or exit if `what` asks for it in `hook`."""
    if what == f"raise:{hook}":
        raise RuntimeError(SECRET)
    if what == f"exit:{hook}":
        raise SystemExit(3)
