"""Staff reports on holds: what expires soon (page and CSV), and the confirmation letter."""

from __future__ import annotations

from referrals.core.guards import staff_blueprint

bp = staff_blueprint("hold_reports", __name__, url_prefix="/holds")
