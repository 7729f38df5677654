"""The one clock. Tests move it; nothing else calls datetime.now()."""

from __future__ import annotations

from datetime import UTC, datetime

_frozen: datetime | None = None


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC)


def freeze(moment: datetime | None) -> None:
    """Stop the clock at ``moment`` (None starts it again). For tests and demos."""
    global _frozen
    if moment is not None and moment.tzinfo is None:
        raise ValueError("freeze() needs a timezone-aware datetime")
    _frozen = moment.astimezone(UTC) if moment is not None else None


def as_utc(value: datetime | None) -> datetime | None:
    """Naive values from the database are UTC; make them say so."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
