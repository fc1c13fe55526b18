"""In CI (`CI=true`) a skipped test fails the run unless this allow-list says why it may skip.

Why: a skip reads as green. A missing tool (shellcheck, kubectl) or an empty KUBECONFIG turned
whole groups of tests into skips, and CI passed without running them. Each allowed skip is a rule
with its reason; anything else that skips under CI=true is listed at the end and the exit status
becomes 1. Loaded by tests/conftest.py (`pytest_plugins`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import pytest


@dataclass(frozen=True)
class AllowedSkip:
    reason: str
    applies: Callable[[pytest.Item], bool]


def _kubernetes_in_main_suite(item: pytest.Item) -> bool:
    """`kubernetes` tests skip in the main suite only; `-m kubernetes` (tests/k8s/ci.sh) must run them."""
    return item.get_closest_marker("kubernetes") is not None and "kubernetes" not in (
        item.config.option.markexpr or "")


ALLOWED_SKIPS = [
    AllowedSkip("needs a Kubernetes cluster: CI runs these with `-m kubernetes` on the fixture cluster "
                "(tests/k8s/ci.sh), where a skip fails", _kubernetes_in_main_suite),
]

_unexpected: dict[str, str] = {}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ARG001 - pytest's signature
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail") or not in_ci():
        return
    if any(rule.applies(item) for rule in ALLOWED_SKIPS):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    _unexpected[item.nodeid] = reason


def pytest_terminal_summary(terminalreporter) -> None:
    if _unexpected:
        terminalreporter.section("skips not on the allow-list (CI=true): these fail the run", red=True)
        for nodeid, reason in _unexpected.items():
            terminalreporter.write_line(f"{nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:  # noqa: ARG001
    if _unexpected and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
