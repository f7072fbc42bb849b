"""The package layers of docs/architecture.md, checked on the source's import statements.

A package may import only packages of a lower layer (never one above it, never a neighbour
of its own layer, so no cycle can form), and only what the other package's ``__init__.py``
lists in ``__all__``: the names it exports and the modules it offers to others. Everything
else in a package is its own business and may change without warning.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "tufpi"

# Bottom to top. Keep in step with docs/architecture.md.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"config", "clock", "exports", "orphans", "tlog"}),
    frozenset({"http"}),
    frozenset({"storage", "db", "keys"}),
    frozenset({"trust", "transparency"}),
    frozenset({"index", "signer"}),
    frozenset({"upstream"}),
    frozenset({"services"}),
    frozenset({"importer", "web", "client", "witness"}),
    frozenset({"cli"}),
)

# Imports allowed across the layers, each with its reason.
EXCEPTIONS: dict[tuple[str, str], str] = {
    # A data migration applies the upload rules themselves, not a copy: the filename
    # registry it fills must hold exactly the forms uploads compare.
    ("db.migrations.versions.0004_release_identity_and_filename_registry", "index"): "rules",
    # Search's words for the projects already there are the words uploads index.
    ("db.migrations.versions.0008_search", "index"): "latest, search_words",
}


@dataclasses.dataclass(frozen=True)
class Import:
    """One ``tufpi`` import: the importing module, the line and the dotted target."""

    module: str
    line: int
    target: tuple[str, ...]  # ("trust", "changes", "set_targets") for a from-import's name


def layer_of(package: str) -> int:
    for number, members in enumerate(LAYERS):
        if package in members:
            return number
    raise AssertionError(f"tufpi.{package} is in no layer: add it to LAYERS")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> Iterator[Import]:
    module = module_name(path)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tufpi."):
                    yield Import(module, node.lineno, tuple(alias.name.split(".")[1:]))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and (node.module == "tufpi" or node.module.startswith("tufpi."))
        ):
            base = tuple(node.module.split(".")[1:])
            for alias in node.names:
                yield Import(module, node.lineno, (*base, alias.name))


def all_imports() -> list[Import]:
    return [found for path in sorted(SRC.rglob("*.py")) for found in imports_of(path)]


def exported(package: str) -> set[str] | None:
    """What ``tufpi.<package>/__init__.py`` lists in ``__all__``; None for a lone module."""
    init = SRC / package / "__init__.py"
    if not init.exists():
        return None
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return set(ast.literal_eval(node.value))
    return set()


def layer_violations(imports: list[Import]) -> list[str]:
    found = []
    for imp in imports:
        own, other = imp.module.split(".")[0], imp.target[0]
        if own == other or (imp.module, other) in EXCEPTIONS:
            continue
        if layer_of(other) >= layer_of(own):
            found.append(
                f"tufpi.{imp.module}:{imp.line} imports tufpi.{'.'.join(imp.target)}, "
                f"but {other} (layer {layer_of(other)}) is not below {own} "
                f"(layer {layer_of(own)})"
            )
    return found


def private_reaches(imports: list[Import]) -> list[str]:
    found = []
    for imp in imports:
        own, other = imp.module.split(".")[0], imp.target[0]
        if own == other or len(imp.target) < 2:
            continue
        public = exported(other)
        if public is not None and imp.target[1] not in public:
            found.append(
                f"tufpi.{imp.module}:{imp.line} imports tufpi.{'.'.join(imp.target)}, but "
                f"{imp.target[1]!r} is not in tufpi.{other}'s __all__"
            )
    return found


def test_every_package_is_in_a_layer() -> None:
    packages = {p.stem if p.is_file() else p.name for p in SRC.iterdir() if p.suffix in {"", ".py"}}
    packages -= {"__init__", "__pycache__", "py"}
    for package in packages:
        if (SRC / package).is_dir() or (SRC / f"{package}.py").is_file():
            layer_of(package)


def test_no_package_imports_one_above_it_or_beside_it() -> None:
    assert layer_violations(all_imports()) == []


def test_other_packages_import_only_what_init_exports() -> None:
    assert private_reaches(all_imports()) == []


def test_every_package_init_says_what_it_is_and_exports() -> None:
    for init in sorted(SRC.glob("*/__init__.py")):
        tree = ast.parse(init.read_text())
        assert ast.get_docstring(tree), f"{init.relative_to(SRC)} has no docstring"
        assert exported(init.parent.name), f"{init.relative_to(SRC)} has no __all__"


@pytest.mark.parametrize(
    ("module", "target", "complaint"),
    [
        ("trust.publisher", ("signer", "election", "leadership"), "not below"),
        ("client.proxy", ("web", "negotiate", "choose"), "not below"),
        ("index.service", ("index", "rules"), None),
        ("keys.dev", ("trust", "roles", "KeySet"), "not below"),
    ],
)
def test_the_layer_check_catches_an_upward_import(
    module: str, target: tuple[str, ...], complaint: str | None
) -> None:
    found = layer_violations([Import(module, 1, target)])
    if complaint is None:
        assert found == []
    else:
        assert len(found) == 1
        assert complaint in found[0]


def test_the_export_check_catches_a_reach_into_a_private_module() -> None:
    public = exported("trust")
    assert public, "tufpi.trust exports nothing"
    reach = Import("web.app", 1, ("trust", "no_such_private_module", "thing"))
    allowed = Import("web.app", 1, ("trust", sorted(public)[0]))
    assert private_reaches([reach, allowed]) == [
        "tufpi.web.app:1 imports tufpi.trust.no_such_private_module.thing, but "
        "'no_such_private_module' is not in tufpi.trust's __all__"
    ]
