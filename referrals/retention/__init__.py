"""Retention: closed cases, and the snapshots of ended holds, are purged after a set period.

``services.purge_due`` decides and purges; ``jobs`` runs it daily; ``flask --app referrals
retention run [--dry-run]`` runs it by hand. Whether anything is held is asked of
``referrals.holds.scope`` and nowhere else.
"""
