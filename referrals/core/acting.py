"""One way for a page to act: call one service; if the domain refuses, say why and undo.

A view loads, authorizes, calls one service and renders. When the service refuses
(``DomainError``), the page does not show an error page: it shows the refusal where the
person will read it (under the form field it names, at the top of the form, or as a
flashed message) and the request is marked refused, so what the service had flushed
before refusing is rolled back now and nothing is committed at the boundary
(``core.transaction.refuse``). Every staff and portal page acts through ``attempt`` or
``act``; none catches ``DomainError`` or rolls back by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import flash
from flask_wtf import FlaskForm

from referrals.core.errors import DomainError
from referrals.core.transaction import refuse

T = TypeVar("T")

FORM_EXPIRED = "The form expired. Reload the page and try again."


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What became of one attempt: ``ok`` with the service's ``value``, or not (``refusal``
    is the domain's refusal; None when the form itself was not valid)."""

    ok: bool
    value: T | None = None
    refusal: DomainError | None = None


def show_refusal(error: DomainError, form: FlaskForm | None = None, field: str | None = None,
                 on_form: type[DomainError] = DomainError) -> None:
    """The refusal where the person reads it: with a form (and a refusal of the ``on_form``
    kind), under each field it names (or ``field``) or else at the top of the form;
    otherwise as a flashed message."""
    if form is None or not isinstance(error, on_form):
        flash(error.message, "error")
        return
    by_field = error.errors or {error.field or field or "": error.message}
    for name, message in by_field.items():
        target = form._fields.get(name) or form._fields.get(field or "")
        if target is not None:
            target.errors = [*target.errors, message]
        else:
            form.form_errors.append(message)


def attempt(service: Callable[..., T], *args: Any, form: FlaskForm | None = None,
            field: str | None = None, on_form: type[DomainError] = DomainError,
            **kwargs: Any) -> Outcome[T]:
    """Call ``service(*args, **kwargs)``. A domain refusal rolls the request back and is
    shown (see ``show_refusal``); any other exception goes on to the error page (which
    rolls back too)."""
    try:
        value = service(*args, **kwargs)
    except DomainError as error:
        refuse()
        show_refusal(error, form, field, on_form)
        return Outcome(ok=False, refusal=error)
    return Outcome(ok=True, value=value)


def flash_form_errors(form: FlaskForm) -> None:
    for name, errors in form.errors.items():
        for error in errors:
            flash(FORM_EXPIRED if name == "csrf_token" else error, "error")


def act(form: FlaskForm | None, service: Callable[..., T], *args: Any,
        done: str | Callable[[T], str | None] | None = None, **kwargs: Any) -> Outcome[T]:
    """For an action posted from a page that then redirects back to it: validate ``form``
    (None: nothing to validate) and flash what is wrong with it, else ``attempt`` the
    service and flash ``done`` (a message, or a function of the service's result) on
    success, the refusal otherwise."""
    if form is not None and not form.validate_on_submit():
        flash_form_errors(form)
        return Outcome(ok=False)
    outcome = attempt(service, *args, **kwargs)
    if outcome.ok:
        message = done(outcome.value) if callable(done) else done
        if message:
            flash(message, "success")
    return outcome
