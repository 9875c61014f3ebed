"""The layer rule, read from the code's own imports (module level, inside functions and under
TYPE_CHECKING): domain < the API contract < store < use cases < API / web / CLI < app factory,
and no module imports another that (through others) imports it back.

A module may import modules of its own layer and of layers below it. Layers of the same rank
(the API, the web pages, the CLI, and the programs beside them) never import each other.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest
from module_graph import Import, cycles, graph, imports, imports_in, modules

# The first pattern that matches a module's dotted name gives its layer ("a.b" matches that
# module only; "a.b.*" the modules under it; a package is listed beside its modules).
LAYERS: tuple[tuple[str, str], ...] = (
    ("printwarden.domain", "domain"),
    ("printwarden.domain.*", "domain"),
    # Pure helpers the store may use: the version, settings, private files, keys, hashing.
    ("printwarden", "foundation"),
    ("printwarden.config", "foundation"),
    ("printwarden.files", "foundation"),
    ("printwarden.heap", "foundation"),
    ("printwarden.keys", "foundation"),
    ("printwarden.security", "foundation"),
    # Payment gateways' adapters, their configuration (part of Settings) and the top-up
    # card exports: the domain's rules and the outside libraries (Stripe's SDK, fpdf2) only.
    ("printwarden.payments", "foundation"),
    ("printwarden.payments.*", "foundation"),
    # The API's contract (its models and problem types) and the one client of it: the
    # routes answer with it, and the provider, the devices and the Site Server call with it.
    ("printwarden.api", "contract"),
    ("printwarden.api.*", "contract"),
    ("printwarden.store", "store"),
    ("printwarden.store.*", "store"),
    # The use cases: what the App Server does, with no HTTP in it (issue 18 §2).
    ("printwarden.usecases", "use cases"),
    ("printwarden.usecases.*", "use cases"),
    # service/: routes/ is the API, app.py the app factory, the other modules use cases
    # (today use cases live in several packages; issue 18 gathers them in one).
    ("printwarden.service.routes", "api"),
    ("printwarden.service.routes.*", "api"),
    ("printwarden.service.app", "app"),
    ("printwarden.service", "use cases"),
    ("printwarden.service.*", "use cases"),
    ("printwarden.analysis", "use cases"),
    ("printwarden.analysis.*", "use cases"),
    ("printwarden.scripting", "use cases"),
    ("printwarden.scripting.*", "use cases"),
    ("printwarden.directory", "use cases"),
    ("printwarden.directory.*", "use cases"),
    # The unicast DNS-SD responder, zone files and dynamic updates the servers run.
    ("printwarden.dnssd", "use cases"),
    ("printwarden.dnssd.*", "use cases"),
    ("printwarden.rendering", "use cases"),
    ("printwarden.rendering.*", "use cases"),
    ("printwarden.mail", "use cases"),
    ("printwarden.mail.*", "use cases"),
    # Integrated Scanning's parts: pages, documents, OCR, destinations, the eSCL client.
    ("printwarden.scanning", "use cases"),
    ("printwarden.scanning.*", "use cases"),
    # The Site Server: its factory and its front door wrap the whole App Server (API and
    # web); the rest (replica, journal, password cache, relay, upstream) are its use cases.
    ("printwarden.site.server", "app"),
    ("printwarden.site.gateway", "app"),
    ("printwarden.site", "use cases"),
    ("printwarden.site.*", "use cases"),
    ("printwarden.web", "web"),
    ("printwarden.web.*", "web"),
    ("printwarden.cli_*", "cli"),
    # The console script's root command: it registers every command group and runs every
    # server (`app serve`, `provider serve`, `demo`), so it sits with the app factory.
    ("printwarden.cli", "app"),
    # Programs of their own that the CLI runs: the Print Provider, the device tools and the
    # simulated printers. None of them loads the App Server's stack.
    ("printwarden.provider", "provider"),
    ("printwarden.provider.*", "provider"),
    ("printwarden.devices", "devices"),
    ("printwarden.devices.*", "devices"),
    ("printwarden.sim", "sim"),
    ("printwarden.sim.*", "sim"),
    # The User Client, on people's computers: the standard library and httpx only
    # (tests/unit/test_client.py).
    ("printwarden.client", "client"),
    ("printwarden.client.*", "client"),
    ("printwarden.serving", "app"),
    ("printwarden.__main__", "app"),
    ("printwarden.demo", "app"),
    ("printwarden.demo.*", "app"),
    # The harness of the tests and the benchmarks: above everything, never imported by the
    # product (tests/unit/test_testing_package.py).
    ("printwarden.testing", "testing"),
    ("printwarden.testing.*", "testing"),
)
RANK = {
    "domain": 0,
    "foundation": 1,
    "contract": 2,
    "store": 3,
    "use cases": 4,
    "api": 5,
    "web": 5,
    "cli": 5,
    "provider": 5,
    "devices": 5,
    "sim": 5,
    "client": 5,
    "app": 6,
    "testing": 7,
}

# Imports that break the rule today, each with why. The list may only shrink: an entry that
# no longer breaks the rule fails test_exceptions_are_still_needed.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("printwarden.cli_site", "printwarden.site.server"): (
        "`printwarden site serve` builds and runs a Site Server, as cli.py's `app serve` does "
        "the App Server; the command belongs beside it with the other launchers"
    ),
}

ROUTES = ("printwarden.service.routes", "printwarden.service.routes.*")
WEB = ("printwarden.web", "printwarden.web.*")


def layer(module: str) -> str:
    for pattern, name in LAYERS:
        if fnmatchcase(module, pattern):
            return name
    raise LookupError(f"{module} has no layer: add it to LAYERS in {__file__}")


def breaks_rule(found: Import) -> bool:
    own, other = layer(found.importer), layer(found.imported)
    return own != other and RANK[other] >= RANK[own]


def _matches(module: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(module, pattern) for pattern in patterns)


def test_every_module_has_a_layer() -> None:
    unplaced = []
    for module in modules():
        try:
            layer(module)
        except LookupError:
            unplaced.append(module)
    assert not unplaced, f"modules with no layer (add them to LAYERS): {unplaced}"


@pytest.mark.parametrize("name", list(RANK))
def test_a_layer_imports_only_itself_and_the_layers_below(name: str) -> None:
    wrong = [
        f"{found}: {name} -> {layer(found.imported)}"
        for found in imports()
        if layer(found.importer) == name
        and breaks_rule(found)
        and (found.importer, found.imported) not in EXCEPTIONS
    ]
    assert not wrong, "imports against the layer rule:\n" + "\n".join(wrong)


def test_the_cli_never_imports_routes_or_web_pages() -> None:
    """cli.py sits with the app factory, but like every cli_*.py it calls what the API and
    the web pages call, never them."""
    wrong = [
        str(found)
        for found in imports()
        if fnmatchcase(found.importer, "printwarden.cli*")
        and _matches(found.imported, ROUTES + WEB)
    ]
    assert not wrong, "\n".join(wrong)


def test_exceptions_are_still_needed() -> None:
    current = {(found.importer, found.imported) for found in imports() if breaks_rule(found)}
    stale = sorted(set(EXCEPTIONS) - current)
    assert not stale, f"no longer needed, remove from EXCEPTIONS: {stale}"


def test_no_import_cycles() -> None:
    """Strongly connected components of the module graph are single modules: a cycle
    hidden behind a function-level import counts too."""
    found = cycles(graph())
    detail = [
        f"{' <-> '.join(component)}:\n  "
        + "\n  ".join(str(i) for i in imports() if {i.importer, i.imported} <= set(component))
        for component in found
    ]
    assert not found, "import cycles:\n" + "\n".join(detail)


def test_every_kind_of_import_is_read() -> None:
    """The reading itself: imports inside functions, under TYPE_CHECKING and relative ones
    are edges; ``from package import module`` names the module."""
    source = """
from typing import TYPE_CHECKING
from printwarden.domain import money
from . import accounts

if TYPE_CHECKING:
    from printwarden.store.db import Database

def later() -> None:
    import printwarden.service.views
    from ..api.users import UserOut
"""
    found = {i.imported for i in imports_in("printwarden.store.users", source)}
    assert found == {
        "printwarden.domain.money",
        "printwarden.store.accounts",
        "printwarden.store.db",
        "printwarden.service.views",
        "printwarden.api.users",
    }


def test_a_cycle_is_a_component_of_more_than_one_module() -> None:
    edges = {
        "a": frozenset({"b"}),
        "b": frozenset({"c"}),
        "c": frozenset({"a", "d"}),
        "d": frozenset(),
        "e": frozenset({"e", "d"}),
    }
    assert cycles(edges) == [["a", "b", "c"]]
