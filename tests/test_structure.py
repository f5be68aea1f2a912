"""The size rules `make lint` enforces catch a breach and pass the tree as it is."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "structure_check", ROOT / "scripts" / "structure_check.py"
)
assert _spec is not None and _spec.loader is not None
structure_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(structure_check)


def test_the_tree_keeps_the_size_rules() -> None:
    assert structure_check.breaches() == []


def test_a_crowded_package_and_a_long_class_are_reported(tmp_path: Path) -> None:
    package = tmp_path / "conversation" / "crowded"
    package.mkdir(parents=True)
    (tmp_path / "conversation" / "__init__.py").write_text("")
    for i in range(structure_check.MAX_MODULES):
        (package / f"m{i}.py").write_text("")
    (package / "__init__.py").write_text("")
    body = "\n".join(f"    x{i} = {i}" for i in range(structure_check.MAX_CLASS_LINES))
    (tmp_path / "conversation" / "big.py").write_text(f"class Big:\n{body}\n")

    found = structure_check.breaches(tmp_path)

    assert any("conversation/crowded/: 13 modules" in line for line in found), found
    assert any("class Big is 301 lines" in line for line in found), found
    assert len(found) == 2
