"""Collecting from the platform: what the connector returns becomes evidence items, each with
its hashes and a "collected" custody event."""

from __future__ import annotations

import io
from collections.abc import Iterable

from referrals.connector import ConnectorError, Period, Target, fetch, get_connector
from referrals.connector.demo import export_as_json
from referrals.core.identity import Identity
from referrals.evidence.models import EvidenceItem
from referrals.evidence.services import add_collected_evidence


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
    """Ask the platform for each target × category and store every answer as evidence owned by
    ``request`` or ``hold``. One JSON item per target and category (its records, even when there
    are none: "nothing found" is part of the answer), plus one item per content file."""
    connector = get_connector()
    items: list[EvidenceItem] = []
    for target in targets:
        for category in categories:
            try:
                export = fetch(connector, category, target, period)
            except ConnectorError:
                raise
            except Exception as error:  # a deployment's connector failing must not become a 500
                raise ConnectorError(
                    f"The platform did not answer for {category} of {target.kind} "
                    f"{target.value}. Try again later; if it keeps failing, tell the on-call."
                ) from error
            name = f"{category}-{target.kind}-{target.value}.json"
            items.append(add_collected_evidence(
                actor, io.BytesIO(export_as_json(export)), request=request, hold=hold,
                original_name=name, source_system=connector.name,
                description=f"{len(export.records)} {category} record(s) for {target.kind} "
                            f"{target.value}" + ("" if export.found else " (no such account)"),
                purpose=purpose))
            for file in export.files:
                items.append(add_collected_evidence(
                    actor, io.BytesIO(file.data), request=request, hold=hold,
                    original_name=file.name, source_system=connector.name,
                    platform_content_id=file.platform_content_id, url=file.url,
                    may_be_csam=file.may_be_csam,
                    description=f"Content of {target.kind} {target.value}", purpose=purpose))
    return items
