"""Names instead of ids in the audit log: which table gives a label to which id.

The audit trail sits below every feature, so it cannot import their models; each feature
registers its own label source here instead (``register_labels`` at the end of its
``models.py``): the id column, the label column, the before/after field names that hold such
an id (``assignee_id`` is a user), and the object types whose ``object_id`` is such an id.
Lookups are batched: one ``IN`` query per kind for a whole page or export batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.sql import ColumnElement

from referrals.extensions import db


@dataclass(frozen=True)
class LabelSource:
    kind: str
    key: ColumnElement  # the integer id
    label: ColumnElement
    fields: frozenset[str]
    object_types: frozenset[str]


_SOURCES: dict[str, LabelSource] = {}


def register_labels(kind: str, key: ColumnElement, label: ColumnElement, *,
                    fields: Iterable[str] = (), object_types: Iterable[str] = ()) -> None:
    _SOURCES[kind] = LabelSource(kind, key, label, frozenset(fields), frozenset(object_types))


def kind_of_field(name: str) -> str | None:
    """The kind of id a before/after field holds (``assignee_id`` → ``user``), if known."""
    return next((s.kind for s in _SOURCES.values() if name in s.fields), None)


def kind_of_object(object_type: str | None) -> str | None:
    return next((s.kind for s in _SOURCES.values() if object_type in s.object_types), None)


def _as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    return None


class Labels:
    """Ids to look up, by kind; ``resolve()`` fetches them all, then ``label(kind, id)``."""

    def __init__(self) -> None:
        self.wanted: dict[str, set[int]] = {}
        self.found: dict[str, dict[int, str]] = {}

    def want(self, kind: str | None, value: Any) -> None:
        if kind not in _SOURCES:
            return
        values = value if isinstance(value, list) else [value]
        for item in values:
            ident = _as_id(item)
            if ident is not None:
                self.wanted.setdefault(kind, set()).add(ident)

    def want_fields(self, fields: Mapping[str, Any]) -> None:
        for name, value in fields.items():
            self.want(kind_of_field(name), value)

    def resolve(self) -> Labels:
        for kind, ids in self.wanted.items():
            missing = ids - set(self.found.get(kind, {}))
            if not missing:
                continue
            source = _SOURCES[kind]
            rows = db.session.execute(
                select(source.key, source.label).where(source.key.in_(sorted(missing))))
            self.found.setdefault(kind, {}).update({int(k): str(v) for k, v in rows})
        self.wanted.clear()
        return self

    def label(self, kind: str | None, value: Any) -> str | None:
        ident = _as_id(value)
        if kind is None or ident is None:
            return None
        return self.found.get(kind, {}).get(ident)


def agency_choices() -> list[tuple[int, str]]:
    """Every agency (id, name), by name: the agency filter's choices."""
    source = _SOURCES.get("agency")
    if source is None:
        return []
    rows = db.session.execute(select(source.key, source.label).order_by(source.label))
    return [(int(k), str(v)) for k, v in rows]
