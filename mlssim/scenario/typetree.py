"""The scenario schema as a tree of types, walked by dotted key path.

The loader needs to know, for a path the user wrote, which type the schema expects there:
to check an override's path before it is set, to turn a pydantic error location (which holds
discriminator tags the file does not) back into the user's path, and to list the allowed keys
and distribution forms in a message. ``docs.py`` reads the same types to write the reference.
This module answers those questions from the pydantic models alone.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .issues import KeyPath, Segment
from .schema import Scenario


class _Step(NamedTuple):
    """Where a walk through the schema types stands: the type there and its union discriminator."""

    tp: Any
    discriminator: str | None = None


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _model(tp: Any) -> type[BaseModel] | None:
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _union_models(tp: Any) -> list[type[BaseModel]]:
    if typing.get_origin(tp) in (Union, types.UnionType):
        models = [_model(a) for a in typing.get_args(tp)]
        if models and all(m is not None for m in models):
            return [m for m in models if m is not None]
    return []


def _tag_of(model: type[BaseModel], discriminator: str) -> str | None:
    field = model.model_fields.get(discriminator)
    if field is not None and typing.get_origin(field.annotation) is Literal:
        args = typing.get_args(field.annotation)
        return str(args[0]) if args else None
    return None


def _field_step(field: FieldInfo) -> _Step:
    disc = field.discriminator if isinstance(field.discriminator, str) else None
    return _Step(_strip_optional(field.annotation), disc)


def _child(step: _Step, seg: Segment) -> _Step | None:
    """The type one key below ``step``, or None when the schema has no such key."""
    tp = step.tp
    model = _model(tp)
    if model is not None:
        field = model.model_fields.get(seg) if isinstance(seg, str) else None
        return _field_step(field) if field is not None else None
    origin = typing.get_origin(tp)
    if origin is list:
        return _Step(_strip_optional(typing.get_args(tp)[0])) if isinstance(seg, int) else None
    if origin is dict:
        return _Step(_strip_optional(typing.get_args(tp)[1])) if isinstance(seg, str) else None
    for member in _union_models(tp):  # a tagged union: any member's key will do
        if isinstance(seg, str) and seg in member.model_fields:
            return _field_step(member.model_fields[seg])
    return None


def _resolve_loc(loc: Sequence[Segment]) -> tuple[KeyPath, _Step | None]:
    """A pydantic error loc → the dotted path the user wrote, and the schema type there.

    pydantic puts the discriminator tag of a union member into the loc
    (``latency.uniform.high``) and ``[key]`` after a bad mapping key; neither is in the file.
    """
    path: list[Segment] = []
    step: _Step | None = _Step(Scenario)
    for seg in loc:
        if step is not None:
            members = _union_models(step.tp)
            if members and step.discriminator and isinstance(seg, str):
                chosen = [m for m in members if _tag_of(m, step.discriminator) == seg]
                if chosen:
                    step = _Step(chosen[0])
                    continue
        if seg == "[key]":
            continue
        path.append(seg)
        step = _child(step, seg) if step is not None else None
    return tuple(path), step


def _allowed_keys(step: _Step | None) -> list[str]:
    if step is None:
        return []
    model = _model(step.tp)
    if model is not None:
        return list(model.model_fields)
    keys: list[str] = []
    for member in _union_models(step.tp):
        keys.extend(k for k in member.model_fields if k not in keys)
    return keys


def _tags(step: _Step | None) -> list[str]:
    if step is None or not step.discriminator:
        return []
    return [t for m in _union_models(step.tp) if (t := _tag_of(m, step.discriminator)) is not None]
