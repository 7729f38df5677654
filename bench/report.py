"""Printing: plain-text tables, progress lines, and the goals with PASS or FAIL."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

PROGRESS = "  · "  # bench.children passes lines that start so straight through
MB = 1_000_000  # decimal megabytes: the goals say "MB", and a smaller unit is the stricter reading


@dataclass(frozen=True)
class Check:
    """One goal from the issue, what was measured against it, and whether it held."""

    goal: str
    measured: str
    passed: bool


def progress(message: str) -> None:
    """A progress line on stderr, so a child's stdout carries only its result."""
    print(f"{PROGRESS}{message}", file=sys.stderr, flush=True)


def heading(title: str) -> None:
    print(f"\n{title}\n{'=' * len(title)}", flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to fit; numbers right-aligned, text left-aligned."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    numeric = [all(_looks_numeric(row[i]) for row in cells) if cells else False
               for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(value.rjust(width) if right else value.ljust(width)
                         for value, width, right in zip(values, widths, numeric)).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(list(headers)), rule, *(line(row) for row in cells)])


def print_checks(checks: Sequence[Check]) -> bool:
    """The goals table; True when every goal held."""
    heading("Goals")
    rows = [("PASS" if check.passed else "FAIL", check.goal, check.measured) for check in checks]
    print(table(("result", "goal", "measured"), rows), flush=True)
    failed = sum(not check.passed for check in checks)
    print(f"\n{len(checks) - failed} of {len(checks)} goals met.", flush=True)
    return failed == 0


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that was actually observed."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _looks_numeric(text: str) -> bool:
    stripped = text.replace(",", "").replace(".", "").replace("×", "").strip()
    return stripped.isdigit() or text == "—"
