"""The package's import rules checked on its source: an AST pass over every module, so an import inside a
function (or under ``TYPE_CHECKING``) counts as much as one at the top. ``tests/test_package.py`` runs it on
the package, and on generated trees to prove it catches what it should.

Five rules: a layer never imports a layer above it (``above``); sibling backends never import each other
(``siblings``), and neither do any two subpackages of a ``families`` package (``deploy/docker``,
``deploy/kubernetes`` and any backend added beside them); a module never imports what ``banned`` keeps from it
(the agents never import the Docker backend); no module imports another module's private (``_name``) names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Rules:
    """``above``: ``{layer: layers it must not import}`` (a layer is a top-level module or subpackage);
    ``siblings``: pairs of dotted prefixes (relative to the package) that never import each other;
    ``families``: packages (dotted, relative) whose subpackages never import each other (their own modules,
    such as ``deploy/base.py``, are what the subpackages share); ``banned``: ``(importer, target)`` prefixes,
    one way, with the reason shown."""

    above: Mapping[str, Sequence[str]]
    siblings: Sequence[tuple[str, str]] = ()
    families: Sequence[str] = ()
    banned: Sequence[tuple[str, str, str]] = ()


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str  # the importing module, dotted, package first
    target: str  # the imported module, dotted, package first
    names: tuple[str, ...]  # the names a ``from`` import takes


def modules(root: Path) -> Iterator[tuple[Path, str, bool]]:
    """``(file, dotted name, is a package's __init__)`` for every module under the package folder ``root``."""
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("").parts
        if not all(part.isidentifier() for part in rel):
            continue  # not importable (a build output, a data folder)
        package = rel[-1] == "__init__"
        yield path, ".".join(rel[:-1] if package else rel), package


def _exists(root: Path, dotted: str) -> bool:
    parts = dotted.split(".")[1:]
    where = root.joinpath(*parts)
    return where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()


def imports(root: Path) -> Iterator[Import]:
    """Every import of the package's own modules, wherever it stands in a module (top, function, class, if)."""
    package = root.name
    for path, module, is_package in modules(root):
        here = module.split(".") if is_package else module.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == package or alias.name.startswith(package + "."):
                        yield Import(path, node.lineno, module, alias.name, ())
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join([*here[: len(here) - node.level + 1], *([node.module] if node.module else [])])
                else:
                    base = node.module or ""
                if base != package and not base.startswith(package + "."):
                    continue
                names = [alias.name for alias in node.names]
                submodules = [n for n in names if _exists(root, f"{base}.{n}")]  # `from ..deploy import docker`
                others = tuple(n for n in names if n not in submodules)
                if others or not submodules:
                    yield Import(path, node.lineno, module, base, others)
                for name in submodules:
                    yield Import(path, node.lineno, module, f"{base}.{name}", ())


def _within(dotted: str, prefix: str) -> bool:
    return dotted == prefix or dotted.startswith(prefix + ".")


def _member(root: Path, dotted: str, family: str) -> str | None:
    """The subpackage of ``family`` (dotted, package first) that ``dotted`` lies in, or None."""
    if not dotted.startswith(family + "."):
        return None
    parts = dotted[len(family) + 1 :].split(".")
    package = len(parts) > 1 or (root.joinpath(*family.split(".")[1:], parts[0]) / "__init__.py").is_file()
    return parts[0] if package else None  # a module of the family itself (deploy/base.py) is no member


def violations(root: Path, rules: Rules) -> list[str]:
    """Every import under the package folder ``root`` that breaks ``rules``, as ``FILE:LINE: what and why``."""
    package = root.name
    found: list[str] = []
    for imp in imports(root):
        where = f"{imp.path}:{imp.line}: {imp.module} imports {imp.target}"
        module, target = imp.module.split(".")[1:], imp.target.split(".")[1:]
        if module and target and module[0] != target[0] and target[0] in rules.above.get(module[0], ()):
            found.append(f"{where}: layer {module[0]!r} must not import layer {target[0]!r} (it is above)")
        for a, b in rules.siblings:
            for mine, theirs in ((a, b), (b, a)):
                if _within(imp.module, f"{package}.{mine}") and _within(imp.target, f"{package}.{theirs}"):
                    found.append(f"{where}: {mine} must not import its sibling {theirs}; share through a common module")
        for family in rules.families:
            mine_, theirs_ = (
                _member(root, imp.module, f"{package}.{family}"),
                _member(root, imp.target, f"{package}.{family}"),
            )
            if mine_ and theirs_ and mine_ != theirs_:
                found.append(
                    f"{where}: {family}.{mine_} must not import its sibling {family}.{theirs_}; share through a "
                    f"module of {family}/ (base.py, container.py)"
                )
        for importer, target, reason in rules.banned:
            if _within(imp.module, f"{package}.{importer}") and _within(imp.target, f"{package}.{target}"):
                found.append(f"{where}: {importer} must not import {target}; {reason}")
        private = [n for n in imp.names if n.startswith("_") and not n.startswith("__")]
        if private:
            found.append(f"{where}: takes private name(s) {', '.join(private)}; make them public helpers")
    return found


def circles(root: Path, within: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs of modules under the dotted prefixes ``within`` (relative to the package) that import each other,
    at the top or inside a function."""
    package = root.name
    inside = [f"{package}.{w}" for w in within]
    edges = {(i.module, i.target) for i in imports(root) if any(_within(i.module, p) for p in inside)}
    return sorted({(a, b) for a, b in edges if a < b and (b, a) in edges})
