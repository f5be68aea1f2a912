"""The size rules of docs/architecture.md, checked by `make lint`.

A package folder holds at most 12 modules and a class spans at most 300 lines: past that a
newcomer stops finding things by their names. Prints each breach and exits 1 when any.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "contracts",
    "conversation",
    "lipsync_worker",
    "avatars",
    "handoff",
    "avatarsite",
    "bench",
    "monitoring",
)
MAX_MODULES = 12
MAX_CLASS_LINES = 300


def breaches(root: Path = ROOT) -> list[str]:
    found: list[str] = []
    for top in PACKAGES:
        for init in sorted((root / top).rglob("__init__.py")):
            folder = init.parent
            if "migrations" in folder.parts:
                continue
            modules = sorted(p.name for p in folder.glob("*.py"))
            if len(modules) > MAX_MODULES:
                found.append(
                    f"{folder.relative_to(root)}/: {len(modules)} modules (at most {MAX_MODULES})"
                )
            for path in folder.glob("*.py"):
                found.extend(_long_classes(path, root))
    return found


def _long_classes(path: Path, root: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
            length = node.end_lineno - node.lineno + 1
            if length > MAX_CLASS_LINES:
                out.append(
                    f"{path.relative_to(root)}:{node.lineno}: class {node.name} is {length} lines "
                    f"(at most {MAX_CLASS_LINES})"
                )
    return out


def main() -> int:
    found = breaches()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
