"""`QgsServerFilter`: a `RequestFilter` whose snake_case hooks call the QGIS ones.

QGIS's rules (reference §1.2, §3.2): the default `onX()` calls the deprecated void `X()` and
returns True, so a plugin written before 3.24 keeps working and a plugin that overrides both
only gets `onX()`; `False` stops later filters (and, from `onSendResponse`, holds the chunk).
`onSendResponse` is not called for the final chunk: QGIS flushes it inside `finish()`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ogcserve.plugins.filters import RequestFilter

if TYPE_CHECKING:
    from ogcserve.compat.qgis.interface import QgsServerInterface
    from ogcserve.context import RequestContext


class QgsServerFilter(RequestFilter):
    """QGIS Server I/O filter: override onRequestReady/requestReady and friends."""

    def __init__(self, serverIface: QgsServerInterface) -> None:
        self._server_iface = serverIface

    def serverInterface(self) -> QgsServerInterface:
        """The interface given to the constructor."""
        return self._server_iface

    # QGIS >= 3.24: bool hooks. The defaults call the deprecated void hooks, as QGIS does.
    def onRequestReady(self) -> bool:
        """Parameters are parsed; default: call `requestReady()`, continue."""
        return _call_then_continue(self.requestReady)

    def onProjectReady(self) -> bool:
        """The project is resolved, the service is about to run; default: continue."""
        return True

    def onSendResponse(self) -> bool:
        """A streaming service flushed a chunk; default: call `sendResponse()`, continue."""
        return _call_then_continue(self.sendResponse)

    def onResponseComplete(self) -> bool:
        """The service is done; default: call `responseComplete()`, continue."""
        return _call_then_continue(self.responseComplete)

    # Deprecated in QGIS 3.40; what plugins written before 3.24 override.
    def requestReady(self) -> None:
        """Deprecated void hook, called by the default `onRequestReady()`."""

    def sendResponse(self) -> None:
        """Deprecated void hook, called by the default `onSendResponse()`."""

    def responseComplete(self) -> None:
        """Deprecated void hook, called by the default `onResponseComplete()`."""

    def implemented_hooks(self) -> list[str]:
        """Core hook names this filter really answers (for `ogcserve plugins`)."""
        return _overridden_hooks(self, QgsServerFilter, _HOOK_NAMES)

    # The bridge to the core hooks: the only place the two vocabularies meet.
    def on_request_ready(self, ctx: RequestContext) -> bool | None:
        """Core hook: `onRequestReady()`."""
        return self.onRequestReady()

    def on_project_ready(self, ctx: RequestContext) -> bool | None:
        """Core hook: `onProjectReady()`."""
        return self.onProjectReady()

    def on_send_response(self, ctx: RequestContext) -> bool | None:
        """Core hook: `onSendResponse()`, except for the final chunk (QGIS does not call it)."""
        return ctx.response.final_flush or self.onSendResponse()

    def on_response_complete(self, ctx: RequestContext) -> bool | None:
        """Core hook: `onResponseComplete()`."""
        return self.onResponseComplete()


# core hook -> the QGIS methods that implement it (either one overridden counts)
_HOOK_NAMES: dict[str, tuple[str, ...]] = {
    "on_request_ready": ("onRequestReady", "requestReady"),
    "on_project_ready": ("onProjectReady",),
    "on_send_response": ("onSendResponse", "sendResponse"),
    "on_response_complete": ("onResponseComplete", "responseComplete"),
}


def _call_then_continue(hook: Callable[[], object]) -> bool:
    """QGIS's default bool hook: call the deprecated void one, then let the chain go on."""
    hook()
    return True


def _overridden_hooks(instance: object, base: type, names: dict[str, tuple[str, ...]]) -> list[str]:
    """The core hooks whose QGIS methods `instance`'s class overrides from `base`."""
    cls = type(instance)
    return [
        hook
        for hook, methods in names.items()
        if any(getattr(cls, m, None) is not getattr(base, m, None) for m in methods)
    ]
