"""Schema errors as project issues: each pydantic error at its key, unknown keys with a guess.

`schema_issues(exc, doc, model)` turns a `ValidationError` of `model` (the whole project, or a
layer's `style` block validated on its own with `prefix` locating it) into issues. An unknown
key is reported with the closest key the model takes there (`unknown key 'colr' (did you mean
'color'?)`), found by walking the error's loc through the model's annotations.
"""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ogcserve.projects.document import Document, Loc, ProjectIssue


def schema_issues(
    exc: ValidationError, doc: Document, model: type[BaseModel], prefix: Loc = ()
) -> list[ProjectIssue]:
    """One issue per error of `exc`, located at `prefix` + the error's loc in `doc`."""
    issues = []
    errors = exc.errors(include_url=False)
    for error in errors:
        loc: Loc = tuple(error["loc"])
        if error["type"] == "too_short" and any(
            tuple(e["loc"])[: len(loc)] == loc != tuple(e["loc"]) for e in errors
        ):
            continue  # a list whose items fail is too short without them: not a mistake of its own
        ctx = error.get("ctx") or {}
        message = str(error["msg"]).removeprefix("Value error, ")
        if "field" in ctx:
            # Our model validators name the key a cross-field problem is best shown at.
            loc = (*loc, str(ctx["field"]))
        elif error["type"] in ("union_tag_not_found", "union_tag_invalid"):
            discriminator = str(ctx.get("discriminator", "type")).strip("'")
            loc = (*loc, discriminator)
            if error["type"] == "union_tag_not_found":
                tags = union_tags(model, loc[:-1])
                if tags:
                    message = f"Field required (one of: {', '.join(tags)})"
        elif error["type"] == "extra_forbidden" and loc:
            message = f"unknown key '{loc[-1]}'" + suggestion(
                str(loc[-1]), known_keys(model, loc[:-1])
            )
        issues.append(doc.issue((*prefix, *loc), message))
    return issues


def suggestion(name: str, known: list[str]) -> str:
    """` (did you mean 'x'?)` for the closest of `known`, or ''."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def known_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the mapping at `loc` takes (empty when it cannot be told).

    A model with a `symbol` field also takes the symbol's keys flat beside its own (the style
    entries: `{value: 1, fill: red}`), so those count as its keys.
    """
    keys: list[str] = []
    for found in _models_at(model, loc):
        for name, info in found.model_fields.items():
            keys.append(info.alias or name)
            if name == "symbol":
                keys += [k for m in _models_in(info.annotation) for k in m.model_fields]
    return sorted(set(keys))


def union_tags(model: type[BaseModel], loc: Loc) -> list[str]:
    """The `type` values of the discriminated union at `loc` (e.g. the source types)."""
    tags = []
    for found in _models_at(model, loc):
        info = found.model_fields.get("type")
        if info is not None and get_origin(info.annotation) is Literal:
            tags += [str(value) for value in get_args(info.annotation)]
    return tags


def _models_at(model: type[BaseModel], loc: Loc) -> list[type[BaseModel]]:
    """The model classes that may validate the value at `loc` (several inside a union)."""
    current: list[Any] = [model]
    for part in loc:
        following: list[Any] = []
        for annotation in current:
            for candidate in _unwrap(annotation):
                if isinstance(part, int):
                    following += _items(candidate)
                elif _is_model(candidate):
                    info = _field(candidate, part)
                    if info is not None:
                        following.append(info.annotation)
                    elif _tag_of(candidate) == part:
                        # pydantic puts a union member's tag in the loc: stay on the member.
                        following.append(candidate)
        current = following
    return [m for annotation in current for m in _models_in(annotation)]


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _tag_of(model: type[BaseModel]) -> str | None:
    info = model.model_fields.get("type")
    if info is not None and get_origin(info.annotation) is Literal:
        args = get_args(info.annotation)
        return str(args[0]) if len(args) == 1 else None
    return None


def _unwrap(annotation: Any) -> list[Any]:
    """The alternatives of an annotation: Annotated and Optional/unions taken apart."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [alt for arg in get_args(annotation) for alt in _unwrap(arg)]
    return [annotation]


def _items(annotation: Any) -> list[Any]:
    """The element types of a tuple or list annotation (its positions, for fixed tuples)."""
    if get_origin(annotation) in (tuple, list):
        return [arg for arg in get_args(annotation) if arg is not Ellipsis]
    return []


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    return [alt for alt in _unwrap(annotation) if _is_model(alt)]


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)
