"""The layers hold: features depend in one direction (the import-linter contracts in
.importlinter), no package reaches into another's ``_private`` names, and no module imports
the project's own code inside a function (the old way of dodging a cycle)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "referrals"


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _package_of(relative: Path) -> str:
    """The top package under referrals a file belongs to ('cases' for
    referrals/cases/services.py; the module name for referrals/app.py)."""
    parts = relative.with_suffix("").parts
    return parts[1] if len(parts) > 1 else ""


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_module(bits: list[str]) -> bool:
    path = ROOT.joinpath(*bits)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def findings_in(source: str, relative: Path) -> list[Finding]:
    """Cross-package imports of private names or modules, and function-level imports of the
    project's own modules, in one file's source."""
    tree = ast.parse(source)
    mine = _package_of(relative)
    found: list[Finding] = []
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            in_function.update(id(inner) for inner in ast.walk(node)
                               if isinstance(inner, (ast.Import, ast.ImportFrom)))
    modules_bound: dict[str, str] = {}  # local name -> the other package it is a module of
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level:
            targets = [(node.module or "", alias) for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [(alias.name, None) for alias in node.names]
        else:
            continue
        for module, alias in targets:
            bits = module.split(".")
            if bits[0] != PACKAGE:
                continue
            if id(node) in in_function:
                found.append(Finding(str(relative), node.lineno,
                                     f"imports {module} inside a function"))
            other = bits[1] if len(bits) > 1 else ""
            if not other or other == mine:
                continue
            if any(_is_private(bit) for bit in bits):
                found.append(Finding(str(relative), node.lineno,
                                     f"imports the private module {module}"))
            if alias is not None:
                if _is_private(alias.name):
                    found.append(Finding(str(relative), node.lineno,
                                         f"imports the private name {alias.name} from {module}"))
                elif _is_module(bits + [alias.name]):  # from referrals.holds import services
                    modules_bound[alias.asname or alias.name] = other
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules_bound and _is_private(node.attr)):
            found.append(Finding(str(relative), node.lineno,
                                 f"uses the private name {node.value.id}.{node.attr} of "
                                 f"{PACKAGE}.{modules_bound[node.value.id]}"))
    return found


def test_the_layer_contracts_are_kept():
    # lint-imports prints the broken contracts with the import chains that break them.
    assert lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True,
                        no_logo=True) == 0


def test_no_package_uses_another_packages_private_names_or_imports_inside_functions():
    found = []
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        relative = path.relative_to(ROOT)
        found += findings_in(path.read_text(encoding="utf-8"), relative)
    assert not found, "\n".join(map(str, found))


def test_the_checker_finds_what_it_looks_for():
    source = (
        "from referrals.cases.services import _assignable, get_case\n"
        "from referrals.holds import services as hold_services\n"
        "from referrals.extensions import security\n"
        "from referrals.evidence._internals import helper\n"
        "from referrals.requests._thing import _x\n"
        "def view():\n"
        "    from referrals.holds.reading import holds_for_case\n"
        "    return hold_services._actor_name(None), holds_for_case, security._totp_cls\n"
    )
    found = [f.what for f in findings_in(source, Path("referrals/portal/portal_views.py"))]
    assert "imports the private name _assignable from referrals.cases.services" in found
    assert "imports the private module referrals.evidence._internals" in found
    assert "imports referrals.holds.reading inside a function" in found
    assert "uses the private name hold_services._actor_name of referrals.holds" in found
    assert not any("get_case" in what or "security" in what for what in found)
    # Within its own package a module may use the package's private names.
    assert findings_in("from referrals.portal.registration import _serializer\n",
                       Path("referrals/portal/portal_views.py")) == []
