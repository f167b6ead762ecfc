"""Which requests the ASGI edge answers on the event loop itself, without the hand-over to a
worker thread and back.

The hand-over costs ~80 µs of CPU a request (the executor's futures, a wake-up of the thread
and, once it is done, of the event loop: four task switches), which is a tenth of a
GetFeatureInfo's. A request runs on the loop only when all of these hold:

- it is an OWS KVP request (a `REQUEST` parameter in the query string) without a body, and
  the same kind (path and REQUEST) answered quickly the last `promote_after` times it ran in
  a worker thread, each in at most `quick` seconds: a kind earns the loop by measurement;
- no request of that kind ever streamed its answer in this process (a WFS GetFeature of many
  features): what a run on the loop streams is held until it returns, so a kind that may
  stream a large answer is kept off the loop once it has;
- no other request of the process is running in a worker thread, so none of them waits for
  the loop to relay its answer, and no database connection this one might need is held.

What bounds the loop's stall: a run on the loop that takes longer than `quick` sends its kind
back to the worker threads, where it must again answer quickly `promote_after` times in a row
before it returns. A database that turns slow (a lock, an overloaded server) stalls the loop
once, for the one request that found it so, and not again while it stays slow: the runs in
threads measure it. The stall of that one request is bounded by the source's query timeout
(and the request's own budget), as a thread's wait is.
"""

from __future__ import annotations

import re

from starlette.types import Scope

# A kind (path, REQUEST) answers on the loop after this many quick runs in a row in a thread.
PROMOTE_AFTER = 8
# Seconds a run may take and still count as quick; a longer run on the loop demotes its kind.
QUICK = 0.005
# Kinds remembered per process; others run in threads (paths are the client's choice).
MAX_KINDS = 256

_NEVER = -1  # a kind's streak once it has streamed: it stays in threads

_REQUEST = re.compile(rb"(?:^|&)request=([^&]{1,64})(?:&|$)", re.IGNORECASE)


class QuickAnswers:
    """Per process: which kinds of request have earned a run on the event loop."""

    def __init__(
        self,
        quick: float | None = None,
        promote_after: int | None = None,
        max_kinds: int | None = None,
    ) -> None:
        self.quick = QUICK if quick is None else quick
        self.promote_after = PROMOTE_AFTER if promote_after is None else promote_after
        self.max_kinds = MAX_KINDS if max_kinds is None else max_kinds
        self._streaks: dict[tuple[str, bytes], int] = {}  # kind -> quick runs in a row

    def kind(self, scope: Scope) -> tuple[str, bytes] | None:
        """The kind of a request without a body: its path and REQUEST value; None when the
        query names no REQUEST (plain or percent-encoded: such a request runs in a thread)."""
        found = _REQUEST.search(scope.get("query_string", b""))
        if found is None:
            return None
        return scope["path"], found.group(1).lower()

    def on_loop(self, kind: tuple[str, bytes]) -> bool:
        """Whether a request of `kind` may run on the event loop."""
        return self._streaks.get(kind, 0) >= self.promote_after

    def ran(
        self, kind: tuple[str, bytes], seconds: float, on_loop: bool, streamed: bool = False
    ) -> None:
        """A request of `kind` took `seconds` (its pipeline's own time), on the loop or not,
        and streamed its answer or not."""
        streak = self._streaks.get(kind)
        if streak is None and len(self._streaks) >= self.max_kinds:
            return
        if streamed:
            self._streaks[kind] = _NEVER
            return
        if streak == _NEVER:
            return
        if seconds > self.quick:
            if streak is not None:
                self._streaks[kind] = 0
            return
        if on_loop:
            return
        self._streaks[kind] = min((streak or 0) + 1, self.promote_after)
