"""What accounts tell the features above them, inside the transaction of the change.

Accounts sits below the features that hold credentials for an account (API tokens), so it
cannot call them; they subscribe here instead. A receiver runs synchronously in the same
transaction and writes its own audit events, so the change and its consequences commit
together or not at all.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent with the user as sender and ``actor`` and ``reason`` keywords when the account is
# disabled or its password changes: every other credential of the account ends for good.
credentials_revoked = _signals.signal("credentials-revoked")
