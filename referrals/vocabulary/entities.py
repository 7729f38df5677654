"""Our legal entities that receive legal process, and the time zone each counts days in.

Which entity a request must be addressed to depends on its type
(``referrals.requests.rules``); a deadline or a hold's expiry is computed in the zone of the
entity that received it.
"""

from __future__ import annotations

from flask import current_app

LEGAL_ENTITIES = {
    "us": "Platform, Inc. (United States)",
    "eu": "Platform Ireland Limited (EU designated establishment)",
    "uk": "Platform UK Ltd (United Kingdom)",
}
ENTITY_ZONES = {"eu": "Europe/Dublin", "uk": "Europe/London"}


def legal_zone(entity: str) -> str:
    """The IANA zone of one of our entities; the US entity uses the legal time zone setting."""
    return ENTITY_ZONES.get(entity) or current_app.config["REFERRALS_SETTINGS"].legal_time_zone
