"""Collecting from the platform: what the connector returns becomes evidence items, each with
its hashes and a "collected" custody event."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable

from referrals.connector import ConnectorError, Export, Period, Target, fetch, get_connector
from referrals.connector.demo import export_as_json
from referrals.core.identity import Identity
from referrals.evidence.models import EvidenceItem
from referrals.evidence.services import record_collected_evidence, stage_evidence


def _ask(connector, category: str, target: Target, period: Period) -> Export:
    try:
        export = fetch(connector, category, target, period)
    except ConnectorError:
        raise
    except Exception as error:  # a deployment's connector failing must not become a 500
        raise ConnectorError(
            f"The platform did not answer for {category} of {target.kind} "
            f"{target.value}. Try again later; if it keeps failing, tell the on-call."
        ) from error
    if not isinstance(export, Export):
        raise ConnectorError(
            f"The platform connector answered {category} of {target.kind} {target.value} "
            f"with something that is not an export. Tell whoever maintains the connector.")
    return export


def ask_platform(targets: Iterable[Target], categories: Iterable[str], period: Period,
                 on_answer: Callable[[int, int], None] | None = None) -> list[Export]:
    """Ask the platform for each target × category (nothing is stored). ``on_answer(done,
    total)`` is called after each answer, for a job to show how far it got."""
    connector = get_connector()
    categories = list(categories)
    questions = [(target, category) for target in targets for category in categories]
    exports = []
    for done, (target, category) in enumerate(questions, start=1):
        exports.append(_ask(connector, category, target, period))
        if on_answer is not None:
            on_answer(done, len(questions))
    return exports


def stage_exports(exports: Iterable[Export]) -> list[tuple[object, dict]]:
    """Store every answer's files (hashed, encrypted, written) before anything is recorded,
    holding no lock: one JSON item per target and category (its records, even when there are
    none: "nothing found" is part of the answer), plus one item per content file. Returns
    what ``record_exports`` records. Call it before the transaction's first write."""
    planned: list[tuple[object, dict]] = []
    for export in exports:
        target, category = export.target, export.category
        planned.append((stage_evidence(io.BytesIO(export_as_json(export))), dict(
            original_name=f"{category}-{target.kind}-{target.value}.json", data_category=category,
            description=f"{len(export.records)} {category} record(s) for {target.kind} "
                        f"{target.value}" + ("" if export.found else " (no such account)"))))
        for file in export.files:
            planned.append((stage_evidence(io.BytesIO(file.data)), dict(
                original_name=file.name, data_category=category,
                platform_content_id=file.platform_content_id,
                url=file.url, may_be_csam=file.may_be_csam,
                description=f"File from {category} data of {target.kind} {target.value}")))
    return planned


def record_exports(actor: Identity, planned: list[tuple[object, dict]], *, purpose: str,
                   request=None, hold=None) -> list[EvidenceItem]:
    """Record what ``stage_exports`` stored, as evidence owned by ``request`` or ``hold``:
    one short stretch of the chain."""
    source = get_connector().name
    return [record_collected_evidence(actor, staged, request=request, hold=hold,
                                      source_system=source, purpose=purpose, **fields)
            for staged, fields in planned]


def store_exports(actor: Identity, exports: Iterable[Export], *, purpose: str, request=None,
                  hold=None) -> list[EvidenceItem]:
    """Store every answer as evidence owned by ``request`` or ``hold``: every file is stored
    before anything is recorded (``stage_exports``, then ``record_exports``)."""
    return record_exports(actor, stage_exports(exports), purpose=purpose, request=request,
                          hold=hold)


def collect_from_platform(
    actor: Identity,
    *,
    targets: Iterable[Target],
    categories: Iterable[str],
    period: Period,
    purpose: str,
    request=None,
    hold=None,
) -> list[EvidenceItem]:
    """Ask the platform (``ask_platform``), then store the answers (``store_exports``).

    Every question is asked before anything is stored: a platform that fails half-way leaves
    no stored files behind for a rolled-back transaction."""
    exports = ask_platform(targets, list(categories), period)
    return store_exports(actor, exports, purpose=purpose, request=request, hold=hold)

