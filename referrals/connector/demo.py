"""A platform that does not exist: synthetic, deterministic data for any identifier.

The same target and period always give the same records, so tests can assert on them and
the demo looks alive. Names come from short word lists, addresses use reserved domains
(``.invalid``), IPs the documentation ranges (RFC 5737) and phones the fictional 555-01xx
numbers. Nothing here resembles a real person or real content.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, time, timedelta

from referrals.connector import Export, ExportFile, Period, Target

FIRST = ("Alex", "Sam", "Robin", "Jamie", "Taylor", "Morgan", "Casey", "Jordan", "Riley", "Avery")
LAST = ("Example", "Sample", "Testperson", "Placeholder", "Fictional", "Madeup", "Synthetic")
NETWORKS = ("192.0.2.", "198.51.100.", "203.0.113.")
# Without dates asked for, the platform answers for this window (it keeps nothing older).
DEFAULT_START = date(2025, 1, 1)
DEFAULT_END = date(2026, 12, 31)
MAX_RECORDS = 60


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()


def _number(*parts: object) -> int:
    return int.from_bytes(_digest(*parts)[:8], "big")


class DemoConnector:
    name = "demo-platform"

    # -- the five categories -------------------------------------------------------------

    def subscriber_information(self, target: Target, period: Period) -> Export:
        seed = self._seed(target)
        n = _number(seed, "subscriber")
        user_id = str(100000000 + n % 900000000)
        record = {
            "platform_user_id": user_id,
            "username": f"{FIRST[n % len(FIRST)].lower()}_{n % 10000:04d}",
            "display_name": f"{FIRST[n % len(FIRST)]} {LAST[(n >> 8) % len(LAST)]}",
            "email": f"user-{seed[:10]}@example.invalid",
            "email_verified": bool(n & 1),
            "phone": f"+1202555{100 + n % 100:04d}" if n & 2 else None,
            "registered_at": self._moment(date(2020, 1, 1) + timedelta(days=n % 1800), n),
            "registration_ip": self._ip(n),
            "account_status": ("active", "suspended", "deactivated")[n % 3],
        }
        return Export("subscriber", target, period, [record])

    def login_records(self, target: Target, period: Period) -> Export:
        records = [
            {"event": ("log-in", "log-out")[k % 2], "at": self._moment(day, k),
             "ip": self._ip(k), "port": 1024 + k % 60000,
             "device_id": f"device-{self._seed(target)[:6]}-{k % 3}"}
            for day, k in self._days(target, period, "login")
        ]
        return Export("login_logout", target, period, records)

    def interaction_records(self, target: Target, period: Period) -> Export:
        kinds = ("follow", "like", "direct-message-metadata", "comment-metadata")
        records = [
            {"event": kinds[k % len(kinds)], "at": self._moment(day, k),
             "counterparty_user_id": str(100000000 + k % 900000000)}
            for day, k in self._days(target, period, "interaction")
        ]
        return Export("interaction", target, period, records)

    def content_items(self, target: Target, period: Period) -> Export:
        records, files = [], []
        for day, k in self._days(target, period, "content")[:12]:
            content_id = f"post-{k % 10**12:012d}"
            text = f"Synthetic post {content_id} for the demo platform, written {day.isoformat()}."
            records.append({"platform_content_id": content_id, "at": self._moment(day, k),
                            "kind": "text-post", "text": text,
                            "url": f"https://platform.example/p/{content_id}"})
            files.append(ExportFile(name=f"{content_id}.txt", data=text.encode(),
                                    platform_content_id=content_id,
                                    url=f"https://platform.example/p/{content_id}"))
        return Export("content", target, period, records, files)

    def transactions(self, target: Target, period: Period) -> Export:
        records = [
            {"at": self._moment(day, k), "kind": ("coin-purchase", "gift-sent")[k % 2],
             "amount": f"{(k % 5000) / 100:.2f}", "currency": "USD",
             "payment_reference": f"TX-{k % 10**10:010d}"}
            for day, k in self._days(target, period, "transaction")[:20]
        ]
        return Export("transaction", target, period, records)

    # -- determinism ---------------------------------------------------------------------

    @staticmethod
    def _seed(target: Target) -> str:
        return hashlib.sha256(f"{target.kind}:{target.value}".encode()).hexdigest()

    def _days(self, target: Target, period: Period, category: str) -> list[tuple[date, int]]:
        """The days in the period on which this account did something, with a number per day."""
        start = max(period.start or DEFAULT_START, DEFAULT_START)
        end = min(period.end or DEFAULT_END, DEFAULT_END)
        seed = self._seed(target)
        found = []
        day = start
        while day <= end and len(found) < MAX_RECORDS:
            k = _number(seed, category, day.isoformat())
            if k % 4 == 0:
                found.append((day, k))
            day += timedelta(days=1)
        return found

    @staticmethod
    def _moment(day: date, k: int) -> str:
        seconds = k % 86400
        at = datetime.combine(day, time(seconds // 3600, (seconds // 60) % 60, seconds % 60), UTC)
        return at.isoformat()

    @staticmethod
    def _ip(k: int) -> str:
        return f"{NETWORKS[k % len(NETWORKS)]}{1 + (k >> 4) % 254}"


def export_as_json(export: Export) -> bytes:
    """The canonical bytes of an export's records: sorted keys, UTF-8, one trailing newline.
    The same export always gives the same bytes, so the same SHA-256."""
    document = {
        "category": export.category,
        "target": {"kind": export.target.kind, "value": export.target.value},
        "period": {"start": export.period.start.isoformat() if export.period.start else None,
                   "end": export.period.end.isoformat() if export.period.end else None},
        "found": export.found,
        "records": export.records,
    }
    return (json.dumps(document, sort_keys=True, ensure_ascii=False, indent=1) + "\n").encode()
