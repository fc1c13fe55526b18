"""The package's seams, checked on the source: who may import whom (README, Architecture)."""

from __future__ import annotations

import ast
from pathlib import Path

HARNESS = Path(__file__).resolve().parent.parent / "harness"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_the_report_reads_only_what_the_checker_wrote():
    """harness/report/ imports nothing of the checker or the scenario model: it reads summary.json and
    the checker's tables through harness/rundir."""
    offending = {f"{path.relative_to(HARNESS)}: {module}"
                 for path in (HARNESS / "report").rglob("*.py") for module in imported_modules(path)
                 if module.startswith(("harness.checker", "harness.scenario"))
                 or module in ("harness.checker", "harness.scenario")}
    assert not offending, sorted(offending)


def test_no_module_imports_another_modules_private_names():
    """A leading underscore means "this module's own": nothing imports one across modules."""
    offending = []
    for path in HARNESS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness"):
                offending += [f"{path.relative_to(HARNESS)}: {node.module}.{a.name}"
                              for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert not offending, offending


def test_the_platform_seam_is_the_protocol():
    """The runner's and the nemesis's platform are declared as the Platform protocol and used only
    through it (no getattr probing for optional methods); the deployment model belongs to neither
    side, so redisconn and the rest import it without reaching into platforms/."""
    from harness.nemesis.faults import Context
    from harness.nemesis.schedule import Nemesis
    from harness.runner import _Session, refuse_unsupported_faults

    for function in (_Session.__init__, Nemesis.__init__, refuse_unsupported_faults):
        assert function.__annotations__["platform"] == "Platform", function
    assert Context.__annotations__["platform"] == "Platform"
    probing = [f"{path.relative_to(HARNESS)}:{node.lineno}" for path in HARNESS.rglob("*.py")
               for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "hasattr")
               and "platform" in ast.unparse(node.args[0])]
    assert not probing, probing
    outside = {f"{path.relative_to(HARNESS)}: {module}"
               for path in HARNESS.glob("*.py") for module in imported_modules(path)
               if module.startswith("harness.platforms") and path.name in ("redisconn.py", "deployment.py", "roles.py")}
    assert not outside, outside


def test_each_platform_has_its_own_sub_package():
    platforms = HARNESS / "platforms"
    assert sorted(p.name for p in platforms.iterdir() if p.is_dir() and p.name != "__pycache__") == [
        "kubernetes", "local"]
    assert sorted(p.name for p in platforms.glob("*.py")) == ["__init__.py", "protocol.py"]


def _modules_with_code() -> set[str]:
    """Every file of harness/ that holds more than a docstring (an empty package marker is no module)."""
    found = set()
    for path in HARNESS.rglob("*.py"):
        body = [n for n in ast.parse(path.read_text()).body
                if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
                and not (isinstance(n, ast.ImportFrom) and n.module == "__future__")]
        if body:
            found.add(str(path.relative_to(HARNESS.parent)))
    return found


def test_the_readme_architecture_table_lists_every_module_and_only_modules():
    readme = (HARNESS.parent / "README.md").read_text()
    table = readme[readme.index("## Architecture"):].split("\n\n| where | what |", 1)[1].split("\n\n", 1)[0]
    listed = set()
    for row in table.splitlines():
        cells = row.split("|")
        if len(cells) < 3 or not cells[1].strip().startswith("`harness/"):
            continue
        names = [name.strip().strip("`") for name in cells[1].split(",")]
        folder = names[0].rsplit("/", 1)[0]
        listed |= {name if name.startswith("harness/") else f"{folder}/{name}" for name in names}
    assert listed == _modules_with_code(), (sorted(_modules_with_code() - listed), sorted(listed - _modules_with_code()))
