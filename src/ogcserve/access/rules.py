"""How the access-control filters of every plugin (and the project's own policy) combine.

| method                         | several filters combine by     |
|--------------------------------|--------------------------------|
| `layer_permissions`            | AND, per permission            |
| `layer_filter_expression`      | AND                            |
| `layer_filter_subset_string`   | AND                            |
| `authorized_layer_attributes`  | chained, in priority order     |
| `allow_to_edit`                | AND                            |
| `cache_key`                    | all keys enter the fingerprint |

`AccessControl.for_request()` memoises every answer for one request; across requests only
through `DecisionMemo` (`access/memo.py`), when every filter declares its answers follow its
cache key. The access layer (`ogcserve.access.layer`) is the only caller. Given a `trace`, it
also notes each filter's own answer as a `Decision`: how `ogcserve explain` tells who decided
what (`access/explain.py`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ogcserve.access.memo import DecisionMemo
from ogcserve.plugins.access import AccessControlFilter, LayerPermissions
from ogcserve.plugins.ordering import PriorityList, Registration

if TYPE_CHECKING:
    from ogcserve.features import Feature
    from ogcserve.projects.model import Layer


@dataclass(frozen=True, slots=True)
class Decision:
    """One filter's own answer to one question about one layer ("" for `cache_key`)."""

    method: str
    layer: str
    plugin: str
    filter: str
    answer: Any


class AccessControl(PriorityList[AccessControlFilter]):
    """The registered access-control filters and their combination rules."""

    def __init__(self) -> None:
        super().__init__()
        self.memo = DecisionMemo()

    def memo_owner(self) -> object | None:
        """The registrations, when every filter's answers follow its cache key (else None:
        nothing may be remembered across requests)."""
        ordered = self._ordered
        if all(getattr(e.item, "decisions_follow_cache_key", False) for e in ordered):
            return ordered
        return None

    def for_request(self, trace: list[Decision] | None = None) -> RequestAccess:
        """A per-request view that asks each plugin once per layer (noting each answer in
        `trace`, if given)."""
        return RequestAccess(self, trace)


class RequestAccess:
    """The combined answers of every access-control filter, memoised for one request."""

    def __init__(self, controls: AccessControl, trace: list[Decision] | None = None) -> None:
        self._controls = controls
        self._memo: dict[tuple[str, str], Any] = {}
        self.trace = trace

    def _ask(self, entry: Registration[AccessControlFilter], method: str, *args: Any) -> Any:
        answer = entry.call(method, *args)
        if self.trace is not None:
            layer = args[0].name if args else ""
            name = type(entry.item).__name__
            self.trace.append(Decision(method, layer, entry.owner, name, answer))
        return answer

    def _once(self, kind: str, layer: Layer, compute: Any) -> Any:
        key = (kind, layer.name)
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def permissions(self, layer: Layer) -> LayerPermissions:
        """AND of every filter's permissions."""

        def compute() -> LayerPermissions:
            result = LayerPermissions()
            for entry in self._controls:
                result &= self._ask(entry, "layer_permissions", layer)
            return result

        return self._once("permissions", layer, compute)  # type: ignore[no-any-return]

    def expressions(self, layer: Layer) -> tuple[str, ...]:
        """Every non-empty filter expression (to be ANDed)."""
        result: tuple[str, ...] = self._once(
            "expressions", layer, lambda: self._strings("layer_filter_expression", layer)
        )
        return result

    def subset_strings(self, layer: Layer) -> tuple[str, ...]:
        """Every non-empty subset string (to be ANDed)."""
        result: tuple[str, ...] = self._once(
            "subsets", layer, lambda: self._strings("layer_filter_subset_string", layer)
        )
        return result

    def attributes(self, layer: Layer, attributes: Iterable[str]) -> tuple[str, ...]:
        """The attribute list passed through every filter in turn."""
        names = list(attributes)

        def compute() -> tuple[str, ...]:
            current = list(names)
            for entry in self._controls:
                current = list(self._ask(entry, "authorized_layer_attributes", layer, current[:]))
            # A filter may only narrow the list: names it invents do not exist.
            allowed = set(names)
            return tuple(n for n in current if n in allowed)

        return self._once("attributes", layer, compute)  # type: ignore[no-any-return]

    def allow_to_edit(self, layer: Layer, feature: Feature) -> bool:
        """AND over every filter (never memoised: it depends on the feature)."""
        return all(entry.call("allow_to_edit", layer, feature) for entry in self._controls)

    def cache_keys(self) -> tuple[str, ...]:
        """Every filter's cache key, in order."""
        key = ("cache_key", "")
        if key not in self._memo:
            self._memo[key] = tuple(str(self._ask(e, "cache_key") or "") for e in self._controls)
        return self._memo[key]  # type: ignore[no-any-return]

    def _strings(self, method: str, layer: Layer) -> tuple[str, ...]:
        values = (self._ask(entry, method, layer) for entry in self._controls)
        return tuple(v.strip() for v in values if v and v.strip())

    def fingerprint(
        self,
        version: Hashable,
        layers: Iterable[Layer],
        field_names: Callable[[Layer], Iterable[str]],
    ) -> str:
        """A digest of everything the caller's rights change about `layers` (of the project
        file `version`).

        Two callers with the same digest see the same documents, so caches key on it; unlike
        QGIS's cacheKey (reference §4.3) it is derived from the decisions themselves, so a
        plugin that leaves `cache_key()` empty still cannot leak one user's document to another.
        Where every filter declares its answers follow its cache key, the digest and the
        decisions are remembered across requests (`DecisionMemo`) and this request takes them
        from there.
        """
        owner = self._controls.memo_owner()
        if owner is None or self.trace is not None:  # explaining: every filter is asked
            return self._digest(layers, field_names)
        key = (version, self.cache_keys())
        found = self._controls.memo.get(owner, key)
        if found is not None:
            digest, decisions = found
            self._memo = {**decisions, **self._memo}  # what this request asked already stays
            return digest
        digest = self._digest(layers, field_names)
        self._controls.memo.put(owner, key, digest, self._memo)
        return digest

    def _digest(
        self, layers: Iterable[Layer], field_names: Callable[[Layer], Iterable[str]]
    ) -> str:
        decisions: list[object] = [self.cache_keys()]
        for layer in layers:
            perms = self.permissions(layer)
            if perms.can_read and not layer.is_group:
                decisions.append(
                    (
                        layer.name,
                        perms,
                        self.expressions(layer),
                        self.subset_strings(layer),
                        self.attributes(layer, field_names(layer)),
                    )
                )
            else:
                decisions.append((layer.name, perms))
        return hashlib.blake2b(repr(decisions).encode(), digest_size=16).hexdigest()
