"""Sizes as people read them: 12 bytes, 1.5 MiB (powers of 1024, and named so)."""

from __future__ import annotations


def format_size(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)
