"""Connectors a deployment might plug in, good and bad: for the tests only."""

from __future__ import annotations

from referrals.connector import Export, ExportFile, Period, Target
from referrals.connector.demo import DemoConnector


class RecordingConnector(DemoConnector):
    """The demo platform under another name, remembering what it was asked."""

    name = "recording-platform"
    built = 0

    def __init__(self):
        RecordingConnector.built += 1
        self.asked: list[tuple[str, Target, Period]] = []

    def subscriber_information(self, target, period):
        self.asked.append(("subscriber", target, period))
        return super().subscriber_information(target, period)


class BrokenConnector(DemoConnector):
    """Answers subscriber information, then fails on log-ins like a platform under load."""

    name = "broken-platform"

    def login_records(self, target, period):
        raise TimeoutError("upstream read timed out after 30 s (synthetic)")


class WrongAnswerConnector(DemoConnector):
    name = "wrong-answer-platform"

    def subscriber_information(self, target, period):
        return {"not": "an export"}


class FlaggedMediaConnector(DemoConnector):
    """Content with one file the platform's classifier flagged (synthetic bytes)."""

    name = "flagged-media-platform"

    def content_items(self, target, period):
        return Export("content", target, period, [{"platform_content_id": "post-flagged"}],
                      [ExportFile("flagged.bin", b"synthetic flagged bytes, not media\n",
                                  platform_content_id="post-flagged", may_be_csam=True)])


class HalfConnector:
    """Lacks most methods."""

    name = "half-platform"

    def subscriber_information(self, target, period):
        return Export("subscriber", target, period)


class NamelessConnector:
    """Every method, but no name to record as the evidence's source system."""

    def _empty(self, target, period):
        return Export("subscriber", target, period)

    subscriber_information = login_records = interaction_records = _empty
    content_items = transactions = _empty


def not_a_class():
    raise RuntimeError("the connector's own configuration is missing (synthetic)")
