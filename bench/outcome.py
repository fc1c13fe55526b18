"""How a benchmark ends: non-zero when its correctness check fails, and in full mode when a target
is missed; `--quick` runs it small, where only correctness decides (CI runs every bench that way,
so none rots while its figures stay a matter for the full run on a quiet machine).
"""

from __future__ import annotations

import argparse
import sys


def add_quick(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="a short run for CI: correctness decides the exit code, targets are only printed")


class Outcome:
    def __init__(self, quick: bool):
        self.quick = quick
        self.wrong: list[str] = []
        self.missed: list[str] = []

    def correct(self, ok: bool, what: str) -> None:
        """A result the benchmark must get right whatever the machine (e.g. lost == planted)."""
        print(f"correctness: {what} -> {'ok' if ok else 'WRONG'}")
        if not ok:
            self.wrong.append(what)

    def target(self, met: bool, what: str) -> None:
        """A performance target: decides the exit code in full mode only."""
        print(f"target: {what} -> {'met' if met else 'NOT met'}{' (quick mode: not judged)' if self.quick else ''}")
        if not met:
            self.missed.append(what)

    def exit_code(self) -> int:
        return 1 if self.wrong or (self.missed and not self.quick) else 0

    def finish(self) -> None:
        sys.exit(self.exit_code())
