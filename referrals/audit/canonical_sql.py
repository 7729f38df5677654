"""The audit hash's canonical text, written by the database (``audit verify``'s fast path).

An event's hash is SHA-256 over ``json.dumps`` of its fields with sorted keys, no spaces and
UTF-8 (``services.event_digest``). Building that text in Python costs more than reading the
row; the database builds it as one column instead -- on PostgreSQL in its own process, on
the machine's other core -- and Python only hashes it and checks the chain.

Only the speed depends on the two agreeing. The walk checks each event against the hash of
this text and, where they differ, against the hash of Python's own encoding of the raw row
(``services._reference_digest``), so an event fails only if both differ: a database whose
quoting differs from Python's somewhere walks slower there, never reports tampering that is
not there. Nor can it hide any: the text is JSON of the row's current values, written
without ambiguity (two different rows never give the same text), so if it hashes to the
stored hash it is the very text that was hashed when the event was written, and the values
are the ones written.
"""

from __future__ import annotations

# What the hash covers, in the order of the row's columns.
HASHED = ("seq", "occurred_at", "actor_kind", "actor_id", "actor_label", "action",
          "object_type", "object_id", "agency_id", "before", "after", "ip", "user_agent",
          "request_id", "prev_hash")

# SQLite keeps ``occurred_at`` as ``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC); the hash has it as
# ``isoformat(timespec="microseconds")`` of the aware datetime. Anything else stored there
# gives NULL, which never matches: that event is checked the Python way.
_SQLITE_OCCURRED_AT = (
    "CASE WHEN length(occurred_at) = 26 AND substr(occurred_at, 11, 1) = ' ' "
    "THEN substr(occurred_at, 1, 10) || 'T' || substr(occurred_at, 12) || '+00:00' END")

# timestamptz, written in UTC the way ``isoformat`` writes it.
_POSTGRESQL_OCCURRED_AT = (
    "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')")


def _sqlite() -> str:
    # json_object writes its pairs in the order given, with no spaces, strings quoted the
    # way json.dumps(ensure_ascii=False) quotes them.
    pairs = ", ".join(
        f"'{name}', {_SQLITE_OCCURRED_AT if name == 'occurred_at' else name}"
        for name in sorted(HASHED))
    return f"json_object({pairs})"


# Integer columns: their decimal digits, as json.dumps writes an int.
_INTEGERS = frozenset({"seq", "actor_id", "agency_id"})


def _postgresql_value(name: str) -> str:
    if name == "occurred_at":
        return f"'\"' || {_POSTGRESQL_OCCURRED_AT} || '\"'"
    if name in _INTEGERS:
        return f"{name}::text"
    # A backslash and a quote escaped, the rest as it is: json.dumps's quoting of any text
    # without control characters, at half the server's time of to_json. A control character
    # stays raw here where json.dumps escapes it: that event's text cannot match, and it is
    # checked the Python way (nor can a raw one match the escaped form of another value).
    return f"'\"' || replace(replace({name}, '\\', '\\\\'), '\"', '\\\"') || '\"'"


def _postgresql() -> str:
    # json_build_object would put spaces around the colons, and to_json per value costs the
    # server twice the time of the quoting below.
    parts = []
    for position, name in enumerate(sorted(HASHED)):
        separator = "{" if position == 0 else ","
        parts.append(f"'{separator}\"{name}\":' || coalesce({_postgresql_value(name)}, 'null')")
    return " || ".join(parts) + " || '}'"


def canonical_text_sql(dialect: str) -> str:
    """An SQL expression over ``audit_events`` for the text the event's hash covers; on a
    database this module does not know, NULL (every event is then checked the Python way)."""
    if dialect == "sqlite":
        return _sqlite()
    if dialect == "postgresql":
        return _postgresql()
    return "NULL"
