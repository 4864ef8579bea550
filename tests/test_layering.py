"""The import layering of design.md: a family imports the verdict layer, the engine and the
core; the core never imports a family (nor the engine or the verdict layer); the engine
imports only the core; the verdict layer imports the engine and the core (its command line
hands each check its ``batch.Options``); families never import each other. The monitor (a
tool over the theory, ``python -m collapse_jax.monitor``) imports the core, the verdict layer
and, of the families, only the theory module of ``power_law``. Every import counts, including
those inside functions."""

from __future__ import annotations

import ast
import pathlib

import collapse_jax

PKG = pathlib.Path(collapse_jax.__file__).parent
FAMILIES = ("power_law", "classic", "knowledge_center", "proxy", "vae")
ALLOWED = {"core": {"core"}, "engine": {"engine", "core"}, "verdict": {"verdict", "engine", "core"}}
ALLOWED.update({f: {f, "core", "engine", "verdict"} for f in FAMILIES})
ALLOWED["monitor"] = {"monitor", "core", "engine", "verdict", "power_law"}
#: the only family modules the monitor may import
MONITOR_FAMILY_IMPORTS = {"collapse_jax.power_law.theory"}


def _layer(path: pathlib.Path) -> str:
    return path.relative_to(PKG).parts[0]


def _imports(path: pathlib.Path):
    """Absolute names of every collapse_jax module ``path`` imports."""
    package = ["collapse_jax", *path.relative_to(PKG).parts[:-1]]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield module
            yield from (f"{module}.{a.name}" for a in node.names)


def test_every_module_belongs_to_a_known_layer():
    layers = {_layer(p) for p in PKG.rglob("*.py") if p.parent != PKG}
    assert layers == set(ALLOWED), layers


def test_layers_import_one_way():
    bad = []
    for path in PKG.rglob("*.py"):
        if path.parent == PKG:
            continue
        layer = _layer(path)
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "collapse_jax" or len(parts) < 2 or parts[1] not in ALLOWED:
                continue
            if parts[1] not in ALLOWED[layer]:
                bad.append(f"{path.relative_to(PKG)} imports {name}")
            elif (layer == "monitor" and parts[1] in FAMILIES
                  and ".".join(parts[:3]) not in MONITOR_FAMILY_IMPORTS):
                bad.append(f"{path.relative_to(PKG)} imports {name}")
    assert not bad, "\n".join(bad)


def test_every_family_has_the_same_rooms():
    for family in FAMILIES:
        rooms = {p.stem for p in (PKG / family).glob("*.py")}
        assert {"kernel", "figures"} <= rooms, family
        assert any(r == "check" or r.startswith("check_") for r in rooms), family
