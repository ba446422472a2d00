"""Imports run one way: faces → domain → models and the pure usage package (grimp).

docs/architecture.md ("Layers") states the rule. Only the faces and the bottom layer are
named here; every other top-level module of homelog is domain, found from the import
graph, so a new or renamed domain module needs no change to this file. A renamed face or
bottom module does: the first test says which name is gone.
"""

from __future__ import annotations

from collections import defaultdict

import grimp
import pytest

#: Blueprints, the API and app-wide web behaviour: they may import anything below them.
FACES = (
    "access",
    "admin",
    "api",
    "auth",
    "backup_pages",
    "cli",
    "forms",
    "health",
    "home_pages",
    "htmx",
    "observability",
    "record",
    "sources",
    "views",
    "web",
)
#: The bottom: the ORM models, the pure usage arithmetic and what they stand on.
BASE = ("config", "errors", "extensions", "i18n", "models", "usage")
#: Form libraries belong to the faces; the domain takes plain values. (flask_wtf's CSRF
#: protection is created in homelog.extensions, with the other extensions.)
FORM_LIBRARIES = ("wtforms",)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("homelog", include_external_packages=True, cache_dir=None)


def _top(module: str) -> str:
    """Return the top-level module of homelog that module is, or lies in."""
    return ".".join(module.split(".")[:2])


def _domain(graph: grimp.ImportGraph) -> list[str]:
    named = {f"homelog.{name}" for name in FACES + BASE}
    tops = {_top(m) for m in graph.modules if m.startswith("homelog.")}
    return sorted(m.removeprefix("homelog.") for m in tops - named)


def _chains(dependencies) -> list[str]:
    return sorted(
        " -> ".join(chain)
        for dependency in dependencies
        for route in dependency.routes
        for chain in [[*route.heads, *route.middle, *route.tails]]
    )


def test_every_named_layer_module_exists(graph):
    missing = [name for name in FACES + BASE if f"homelog.{name}" not in graph.modules]
    assert missing == [], f"renamed or gone, update tests/test_layers.py: {missing}"


def test_imports_run_from_faces_to_domain_to_models(graph):
    layers = [
        grimp.Layer(*FACES, independent=False),
        grimp.Layer(*_domain(graph), independent=False),
        grimp.Layer(*BASE, independent=False),
    ]
    illegal = graph.find_illegal_dependencies_for_layers(layers, containers={"homelog"})
    assert _chains(illegal) == []


def test_no_import_cycle_between_modules(graph):
    """The graph of homelog's top-level modules (a package counts as one) has no cycle."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module in graph.modules:
        if not module.startswith("homelog."):
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith("homelog.") and _top(imported) != _top(module):
                edges[_top(module)].add(_top(imported))
    cycles = []
    state: dict[str, str] = {}  # module -> "open" while on the path, "done" after

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(edges[module]):
            if state.get(imported) == "open":
                cycles.append(" -> ".join([*path[path.index(imported) :], imported]))
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_domain_and_models_use_no_form_library(graph):
    below_faces = [f"homelog.{name}" for name in _domain(graph) + list(BASE)]
    found = [
        f"{module} imports {library}"
        for top in below_faces
        for module in sorted(graph.find_children(top) | {top})
        if module in graph.modules
        for library in FORM_LIBRARIES
        if library in graph.modules
        and graph.direct_import_exists(importer=module, imported=library)
    ]
    assert found == []
