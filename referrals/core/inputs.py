"""Limits every input must respect before any view or service sees it.

A penetration test sent inputs that passed the schemas and then broke deeper down:
integers too large for the database, JSON nested thousands deep, lone UTF-16
surrogates and NUL bytes (which PostgreSQL cannot store in text), and dates at the
end of the calendar that overflow once a deadline adds a day. Each is refused here,
once, with a plain message, so no feature has to remember it.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import Flask, request
from marshmallow import ValidationError
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter
from wtforms.validators import ValidationError as FormValidationError

from referrals.core.errors import InputRefused, InvalidInput

# Our primary keys are INTEGER on PostgreSQL (32-bit signed).
DB_INT_MAX = 2**31 - 1

# Legal dates (periods of data, order end dates): nothing before the web existed and
# nothing so far ahead that adding a deadline's days overflows the calendar.
EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2199, 12, 31)
# "Not blank" as an OpenAPI pattern: a character that is not whitespace to Python's
# str.strip() either (which also strips \x1c-\x1f and \x85, unlike ECMA's \s).
NOT_BLANK = r"[^\s\u001c-\u001f\u0085]"

# The same range as an OpenAPI pattern, so that the spec is no looser than the server.
LEGAL_DATE_SPEC = {"pattern": r"^(19[7-9][0-9]|2[01][0-9]{2})-", "description":
                   f"A date from {EARLIEST_DATE:%Y-%m-%d} to {LATEST_DATE:%Y-%m-%d}"}
DATE_RANGE_MESSAGE = (f"Give a date between {EARLIEST_DATE:%d %B %Y} and "
                      f"{LATEST_DATE:%d %B %Y}.")

# JSON bodies are documents a person or a case system wrote, never this deep.
JSON_MAX_DEPTH = 64
DEPTH_MESSAGE = f"The JSON is nested more than {JSON_MAX_DEPTH} levels deep."

UNREADABLE_TEXT = "Text may not contain NUL characters or unpaired UTF-16 surrogates."


def unreadable_text(value: str) -> bool:
    """True for text no database column may hold: a NUL byte or a lone surrogate."""
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` in every route: an id the database cannot hold is simply not found."""

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


def required_text(value: str | None, field: str, message: str, limit: int = 2000) -> str:
    """Text a service needs (a reason, a note): stripped, present, at most ``limit``
    characters; refused in plain words under ``field`` otherwise."""
    value = (value or "").strip()
    if not value:
        raise InvalidInput(message, field=field)
    if len(value) > limit:
        raise InvalidInput(f"At most {limit:,} characters.", field=field)
    return value


def int_arg(name: str) -> int | None:
    """A query-string id: None when missing, not a number, or out of the database's range."""
    value = request.args.get(name, type=int)
    if value is None or not 0 <= value <= DB_INT_MAX:
        return None
    return value


def _depth_checked(value: Any, depth: int = 0) -> Any:
    if depth > JSON_MAX_DEPTH:
        raise ValueError(DEPTH_MESSAGE)
    if isinstance(value, dict):
        for key, item in value.items():
            _text_checked(key)
            _depth_checked(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _depth_checked(item, depth + 1)
    elif isinstance(value, str):
        _text_checked(value)
    return value


def _text_checked(value: str) -> None:
    if unreadable_text(value):
        raise ValueError(UNREADABLE_TEXT)


def _checked_json(body: bytes) -> None:
    try:
        _depth_checked(json.loads(body))
    except RecursionError:
        raise InputRefused(DEPTH_MESSAGE) from None
    except UnicodeDecodeError:
        raise InputRefused("The body is not UTF-8 text.") from None
    except json.JSONDecodeError:
        return  # the schema's parser answers malformed JSON with its own 400/422
    except ValueError as error:
        raise InputRefused(str(error)) from None


def refuse_unreadable_input() -> None:
    """Before any view: query strings, HTML forms and JSON bodies may not carry text no
    column can hold, and JSON may not nest deep enough to exhaust the parser's stack.
    Reading the body here also enforces MAX_CONTENT_LENGTH (413) before any view runs."""
    # Multipart bodies (evidence, legal process) are parsed by their view, which first
    # raises the size limit; their text fields meet the check at flush instead.
    form = request.form if request.mimetype == "application/x-www-form-urlencoded" else MultiDict()
    for source in (request.args, form):
        for key, values in source.lists():
            if unreadable_text(key) or any(unreadable_text(v) for v in values):
                raise InputRefused(UNREADABLE_TEXT)
    if request.is_json and request.content_length != 0:
        _checked_json(request.get_data(cache=True))


def refuse_unreadable_columns(session: Session, flush_context, instances) -> None:
    """The last line: no text column is ever written with a NUL byte or a lone surrogate
    (PostgreSQL refuses the first and the driver cannot encode the second), whatever
    form, file name or job the text came from."""
    for obj in (*session.new, *session.dirty):
        state = inspect(obj)
        for column in state.mapper.column_attrs:
            value = state.dict.get(column.key)
            if isinstance(value, str) and unreadable_text(value):
                raise InvalidInput(UNREADABLE_TEXT, field=column.key)


def legal_date(value: date | None) -> None:
    """marshmallow validator for a legal date."""
    if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValidationError(DATE_RANGE_MESSAGE)


class LegalDate:
    """WTForms validator for a legal date."""

    def __call__(self, form, field) -> None:
        if field.data is not None and not EARLIEST_DATE <= field.data <= LATEST_DATE:
            raise FormValidationError(DATE_RANGE_MESSAGE)


def init_inputs(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(refuse_unreadable_input)
    if not event.contains(Session, "before_flush", refuse_unreadable_columns):
        event.listen(Session, "before_flush", refuse_unreadable_columns)
