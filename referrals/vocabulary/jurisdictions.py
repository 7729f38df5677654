"""Which law reaches a requester: by the country of the agency (ISO 3166-1 alpha-2) and the
kind of body it is. Requests (which instrument an agency may use) and holds (which kind of
preservation it gets) both read this, so it lives below them.

Legal may read and change these tables; each says where it comes from.
"""

from __future__ import annotations

from datetime import date

# 18 U.S.C. 2711(4): "governmental entity" means a department or agency of the United States
# or any State or political subdivision thereof. Of our agency kinds, police and regulators
# are; a hotline, an NGO or NCMEC is not.
US_GOVERNMENTAL_KINDS = ("law_enforcement", "regulator")

# Regulation (EU) 2023/1543 binds the member states that take part in it: all but Denmark
# (recital 96; Protocol No 22). Ireland opted in (recital 95).
EU_MEMBER_STATES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split())
EU_2023_1543_PARTICIPATING = EU_MEMBER_STATES - {"DK"}
# Art. 34: it applies from 18 August 2026.
EU_2023_1543_APPLIES_FROM = date(2026, 8, 18)

# Parties to the Council of Europe Convention on Cybercrime (ETS No. 185), from the Treaty
# Office's chart of signatures and ratifications. Keep it current: a new ratification
# changes which preservation requests are art. 29 requests.
BUDAPEST_PARTIES = frozenset("""
AL AD AR AM AU AT AZ BE BJ BA BR BG CV CM CA CL CO CR CI HR CY CZ DK DO EE FJ FI FR GE DE GH
GR GD HU IS IE IL IT JP KI LV LI LT LU MT MU MD MC ME MA NL NG MK NO PA PY PE PH PL PT RO SM
SN RS SL SK SI ES LK SE CH TO TN TR UA GB US
""".split())


def is_us_governmental(country: str | None, agency_kind: str | None) -> bool:
    """Does 18 U.S.C. 2703(f) bind us at this agency's request (2711(4))?"""
    return (country or "").upper() == "US" and agency_kind in US_GOVERNMENTAL_KINDS


def is_budapest_party(country: str | None) -> bool:
    return (country or "").upper() in BUDAPEST_PARTIES


def eu_order_refusal(country: str | None, on: date) -> str | None:
    """Why an agency in ``country`` may not issue a European Production or Preservation
    Order on ``on``; None if it may."""
    country = (country or "").upper()
    if on < EU_2023_1543_APPLIES_FROM:
        return ("European Production and Preservation Orders can be issued from 18 August "
                "2026, when Regulation (EU) 2023/1543 applies (art. 34). Send a request under "
                "mutual legal assistance or your national law instead.")
    if country == "DK":
        return ("Denmark does not take part in Regulation (EU) 2023/1543, so a Danish "
                "authority cannot issue a European Production or Preservation Order. Send a "
                "request under mutual legal assistance instead.")
    if country not in EU_2023_1543_PARTICIPATING:
        return ("Only an issuing authority of an EU member state taking part in Regulation "
                "(EU) 2023/1543 can issue a European Production or Preservation Order. Send "
                "the legal process of your own country instead.")
    return None
