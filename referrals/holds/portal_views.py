"""What an agency sees of the holds placed on its requests: the confirmation letter."""

from __future__ import annotations

from referrals.core.guards import portal_blueprint

bp = portal_blueprint("portal_holds", __name__, url_prefix="/portal/holds")
