"""Demo cases: made-up targets, synthetic identifiers, generated images.

``seed_sample_cases`` makes a handful of worked cases for a try-out through the real
services (the benchmark's bulk cases are in ``referrals.demo.bench``).
"""

from __future__ import annotations

from dataclasses import replace

import io
import random
import struct
import zlib
from datetime import timedelta

from sqlalchemy import func, select

from referrals.accounts.models import User
from referrals.cases.escalations import receive_escalation
from referrals.cases.models import Case
from referrals.core.clock import now
from referrals.core.identity import Identity
from referrals.evidence.services import add_evidence
from referrals.extensions import db


def synthetic_png(width: int = 320, height: int = 200, seed: int = 1) -> bytes:
    """A generated gradient image (nothing real)."""
    rng = random.Random(seed)
    r0, g0, b0 = rng.randrange(256), rng.randrange(256), rng.randrange(256)
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows += bytes(((r0 + x) % 256, (g0 + y) % 256, (b0 + x + y) % 256))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(rows), 6)) + chunk(b"IEND", b""))


SAMPLES = [
    ("imminent_harm", "P0", "Live-stream viewer says they will hurt themselves tonight",
     [("streamer_lonewolf88", [("platform_user_id", "u-100234"), ("username", "@lonewolf88"),
                               ("ip", "198.51.100.23")])]),
    ("grooming", "P1", "Adult account messaging several minors off-platform",
     [("trusted.coach", [("platform_user_id", "u-554120"), ("email", "coach.demo@example.net"),
                         ("phone", "+1 202 555 0143")])]),
    ("violent_extremism", "P1", "Account sharing attack-planning material",
     [("northwind_77", [("platform_user_id", "u-778812"), ("device_id", "A1B2-C3D4-DEMO")])]),
    ("trafficking", "P2", "Advertisements suggesting forced labour",
     [("jobs.abroad.fast", [("platform_user_id", "u-901122"), ("phone", "+44 20 7946 0958")])]),
    ("other", "P3", "Threatening messages to a public official",
     [("angryvoice", [("platform_user_id", "u-300300")])]),
]


def seed_sample_cases(agent_id: int | None) -> int:
    """A few worked cases, once (skipped when any case exists)."""
    if db.session.scalar(select(func.count(Case.id))):
        return 0
    actor = Identity(kind="system", label="cli:demo seed", scopes=frozenset({"escalations:write"}))
    for n, (category, priority, title, accounts) in enumerate(SAMPLES, start=1):
        payload = {
            "source_system": "demo-moderation", "external_id": f"DEMO-{n:04d}",
            "category": category, "reason": "user_report" if n % 2 else "classifier",
            "detected_at": now() - timedelta(hours=n * 3), "priority": priority, "title": title,
            "summary": "Synthetic demo case: the people and accounts are made up.",
            "accounts": [{"label": label, "role": "account",
                          "identifiers": [{"kind": k, "value": v} for k, v in idents]}
                         for label, idents in accounts],
            "content": [{"platform_content_id": f"c-{n}00{n}", "url": f"https://platform.example/c/{n}00{n}",
                         "sha256": f"{n:02d}" * 32, "may_be_csam": False}],
        }
        intake = receive_escalation(actor, payload)
        if n in (1, 2) and agent_id is not None:
            # The seed adds the files as an integration would (a token's scope), not as the
            # agent working the case: it must not answer the case's first-response clock.
            agent = replace(Identity.for_user(db.session.get(User, agent_id)),
                            label="cli:demo seed", scopes=frozenset({"evidence:write"}))
            # Case 2 (grooming) is the CyberTipline demo: a file no person has viewed yet.
            add_evidence(agent, intake.case, io.BytesIO(synthetic_png(seed=n)),
                         original_name="stream-capture.png" if n == 1 else "shared-image.png",
                         url=None if n == 1 else "https://platform.example/media/2002.png",
                         description="Synthetic demo image (a generated gradient).")
    return len(SAMPLES)
