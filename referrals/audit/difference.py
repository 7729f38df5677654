"""An audit event's before and after as a person reads them: field by field, names not ids.

Each field of either side is one row: its name in words, the value before, the value after,
and whether it changed. Ids of people, agencies, cases and requests are shown as their
labels (``audit.labels``) with the id beside them; a value that is not JSON (an old event)
is shown as stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from referrals.audit.labels import Labels, kind_of_field, kind_of_object
from referrals.audit.models import AuditEvent

MISSING = object()


@dataclass(frozen=True)
class FieldChange:
    name: str  # as stored
    title: str  # in words
    before: str
    after: str
    changed: bool


@dataclass(frozen=True)
class EventDifference:
    changes: list[FieldChange]  # changed fields first, in the order they were written
    unchanged: list[FieldChange]
    raw_before: str | None  # a side that is not a JSON object, shown as stored
    raw_after: str | None
    agency: str | None
    object_label: str | None


def _side(text: str | None) -> tuple[dict[str, Any], str | None]:
    if text is None:
        return {}, None
    try:
        value = json.loads(text)
    except ValueError:
        return {}, text
    if isinstance(value, dict):
        return value, None
    return {}, text


def field_title(name: str) -> str:
    """``assignee_id`` → "Assignee", ``deadline_at`` → "Deadline at"."""
    words = name[:-3] if name.endswith("_id") and len(name) > 3 else name
    words = words.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _plain(value: Any) -> str:
    if value is MISSING:
        return ""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _shown(labels: Labels, name: str, value: Any) -> str:
    kind = kind_of_field(name)
    if kind is not None and value is not MISSING and value is not None:
        values = value if isinstance(value, list) else [value]
        named = [labels.label(kind, v) for v in values]
        if all(named):
            return ", ".join(f"{label} (#{v})" for label, v in zip(named, values))
    return _plain(value)


def event_difference(event: AuditEvent) -> EventDifference:
    before, raw_before = _side(event.before)
    after, raw_after = _side(event.after)
    labels = Labels()
    labels.want_fields(before)
    labels.want_fields(after)
    labels.want("agency", event.agency_id)
    object_kind = kind_of_object(event.object_type)
    labels.want(object_kind, event.object_id)
    labels.resolve()

    names = list(before) + [name for name in after if name not in before]
    changes, unchanged = [], []
    for name in names:
        old, new = before.get(name, MISSING), after.get(name, MISSING)
        # Only one side (a creation, a view, a deletion) is a change of every field it has.
        changed = old != new
        row = FieldChange(name, field_title(name), _shown(labels, name, old),
                          _shown(labels, name, new), changed)
        (changes if changed else unchanged).append(row)
    return EventDifference(changes, unchanged, raw_before, raw_after,
                           labels.label("agency", event.agency_id),
                           labels.label(object_kind, event.object_id))


def changed_names(event) -> list[str]:
    """The titles of the fields an event changed (no lookups): the log's one-line summary."""
    before, _ = _side(event.before)
    after, _ = _side(event.after)
    names = list(before) + [name for name in after if name not in before]
    return [field_title(n) for n in names if before.get(n, MISSING) != after.get(n, MISSING)]
