"""The skip guard in a pytest of its own: under CI=true an unlisted skip fails, a listed one does not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = '''
import pytest

@pytest.mark.skip(reason="tool missing")
def test_plain_skip():
    pass

@pytest.mark.kubernetes
@pytest.mark.skip(reason="no cluster")
def test_needs_cluster():
    pass

def test_runs():
    pass
'''


def pytest_run(tmp_path: Path, *args: str, ci: bool) -> subprocess.CompletedProcess:
    (tmp_path / "test_sample.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    kubernetes: needs a cluster\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CI": "true" if ci else ""}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.skipguard", "-p", "no:cacheprovider",
                           "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), str(tmp_path), *args],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


@pytest.mark.parametrize(("args", "ci", "code", "listed"), [
    ((), False, 0, []),  # outside CI a skip is a skip
    ((), True, 1, ["test_plain_skip"]),  # the kubernetes one is allowed in the main suite
    (("-k", "not plain"), True, 0, []),
    (("-m", "kubernetes"), True, 1, ["test_needs_cluster"]),  # the Kubernetes e2e run: a skip fails
])
def test_unlisted_skips_fail_in_ci(tmp_path, args, ci, code, listed):
    done = pytest_run(tmp_path, *args, ci=ci)
    assert done.returncode == code, done.stdout
    section = done.stdout.split("skips not on the allow-list", 1)[1] if listed else ""
    for name in listed:
        assert f"test_sample.py::{name}" in section
    assert ("skips not on the allow-list" in done.stdout) == bool(listed)
