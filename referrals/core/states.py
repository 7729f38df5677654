"""State machines, declared once per domain in the same form.

Each domain (cases, requests, holds, and the referrals to come) declares its statuses and
every transition in its rules file: where from, where to, through which action, whether
staff must say why, and whether the agency is told. The declaration is then asked by

- the services, which refuse an undeclared transition in plain words and one that needs a
  reason without it (``require``);
- the pages, which offer only the declared moves (``choices``) and the actions possible from
  the current status (``allows``);
- the notices, which tell the agency exactly when the transition says so (``tells_agency``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from referrals.core.errors import DomainError, InvalidInput

MOVE = "move"  # the plain status change a page offers in its "move to" list


class TransitionRefused(DomainError):
    """The status it is in does not allow this; the message says what it can do instead."""

    status = 409
    title = "Not possible in this status"


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    # The action that makes it: MOVE for the plain status change; other actions (approve,
    # disclose, release …) have a service of their own with its own checks.
    by: str = MOVE
    needs_reason: bool = False
    tells_agency: bool = False
    # The rule's source or reason, where a lawyer or a supervisor would want one.
    why: str = ""


@dataclass(frozen=True)
class StateMachine:
    noun: str  # "case", "request", "hold": in the messages
    statuses: Mapping[str, str]  # status → its label
    transitions: tuple[Transition, ...]
    final: tuple[str, ...] = ()
    reason_prompt: str = "Say why."
    _index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[tuple[str, str, str], Transition] = {}
        for t in self.transitions:
            for status in (t.source, t.target):
                if status not in self.statuses:
                    raise ValueError(f"{self.noun}: {status!r} is not a status")
            key = (t.source, t.target, t.by)
            if key in index:
                raise ValueError(f"{self.noun}: {key} is declared twice")
            index[key] = t
        for status in self.final:
            if status not in self.statuses:
                raise ValueError(f"{self.noun}: final {status!r} is not a status")
        object.__setattr__(self, "_index", index)

    def label(self, status: str) -> str:
        return self.statuses.get(status, status)

    def find(self, source: str, target: str, by: str = MOVE) -> Transition | None:
        return self._index.get((source, target, by))

    def targets(self, source: str, by: str = MOVE) -> tuple[str, ...]:
        """Where ``by`` may take a ``source`` status, in the declared order."""
        return tuple(t.target for t in self.transitions if t.source == source and t.by == by)

    def choices(self, source: str, by: str = MOVE) -> list[tuple[str, str]]:
        """(status, label) pairs for a page's "move to" list."""
        return [(target, self.label(target)) for target in self.targets(source, by)]

    def sources(self, by: str) -> tuple[str, ...]:
        """The statuses from which ``by`` can happen at all."""
        return tuple(dict.fromkeys(t.source for t in self.transitions if t.by == by))

    def allows(self, source: str, by: str = MOVE, target: str | None = None) -> bool:
        if target is None:
            return source in self.sources(by)
        return self.find(source, target, by) is not None

    def is_final(self, status: str) -> bool:
        return status in self.final

    def refusal(self, source: str, target: str, by: str = MOVE) -> str | None:
        """Why ``source`` → ``target`` by ``by`` is not declared, plainly; None if it is."""
        if self.find(source, target, by) is not None:
            return None
        moves = ", ".join(self.label(s) for s in self.targets(source, by))
        said = (f"A {self.noun} that is {self.label(source).lower()} cannot move to "
                f"{self.label(target).lower()}.")
        return f"{said} It can move to: {moves}." if moves else said

    def require(self, source: str, target: str, *, by: str = MOVE, reason: str | None = None,
                field: str = "status", reason_field: str = "reason",
                reason_prompt: str | None = None) -> Transition:
        """The declared transition, or a refusal: ``TransitionRefused`` when it is not declared,
        ``InvalidInput`` (on ``reason_field``) when it needs a reason and has none."""
        if target not in self.statuses:
            raise InvalidInput("Choose a status.", field=field)
        refusal = self.refusal(source, target, by)
        if refusal:
            raise TransitionRefused(refusal, field=field)
        transition = self.find(source, target, by)
        if transition.needs_reason and not (reason or "").strip():
            raise InvalidInput(reason_prompt or self.reason_prompt, field=reason_field)
        return transition
