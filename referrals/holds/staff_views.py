"""Staff pages for preservation holds: the list, one hold, and the actions on it."""

from __future__ import annotations

from referrals.core.guards import staff_blueprint

bp = staff_blueprint("holds", __name__, url_prefix="/holds")
