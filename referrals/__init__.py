"""Referrals: the Law Enforcement Response team's case manager (``create_app`` in
``referrals.app``)."""

from referrals.app import create_app

__all__ = ["create_app"]
