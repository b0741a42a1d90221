"""The package's layout keeps its promises: sub-packages use each other's public names only,
and no module grows past the size one person can read."""

from __future__ import annotations

import ast
from pathlib import Path

import adequacy

PACKAGE = Path(adequacy.__file__).resolve().parent
MAX_LINES = 650


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _subpackage(module: str) -> str:
    """'adequacy.engine.judge' -> 'engine'; top-level modules are their own unit."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def private_imports(path: Path) -> list[str]:
    """Imports in one file of a private name (or private module) of another sub-package."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this file's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("adequacy"):
                continue
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name.startswith("adequacy")]
            if not targets:
                continue
            target, names = targets[0], []
        else:
            continue
        if _subpackage(target) == _subpackage(here):
            continue
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        private += [p for p in target.split(".") if p.startswith("_")]
        if private:
            found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {target}: {private}")
    return found


def test_no_subpackage_imports_another_ones_private_names():
    problems = [p for path in _modules() for p in private_imports(path)]
    assert problems == []


def test_the_private_import_check_catches_one(tmp_path, monkeypatch):
    """The check above can fail: a module that reaches into another sub-package."""
    fake = PACKAGE / "whatif" / "_probe_for_layout_test.py"
    fake.write_text("from adequacy.engine.engine import _member_labels\n")
    try:
        assert private_imports(fake) == [
            "adequacy/whatif/_probe_for_layout_test.py:1 adequacy.engine.engine: ['_member_labels']"
        ]
    finally:
        fake.unlink()


def test_no_module_is_too_long_to_read():
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_subpackage_says_what_it_owns_and_uses():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "Owns" in doc and "Use" in doc, init
