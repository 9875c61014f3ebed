"""schemathesis against a real App Server and a real Site Server in front of it, with an
admin's token and an ordinary user's: no answer is a server error, every answer matches the
documented schema and content type, and every status code is documented.

On a throwaway database: the operations that could end a run's own access (revoking its
token, deleting or demoting its user, logging out) run last. Bounded here (a few examples
per operation); ``make fuzz-api`` runs it longer (PRINTWARDEN_FUZZ_* in support/fuzzapi.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from printwarden.domain.accounts import Role
from support import fuzzapi
from support.appserver import AppServer
from support.site import SiteProcess, app_and_site

# The App Server gets the deterministic boundary cases too; the Site Server forwards to it
# while online, so random cases are enough there (``make fuzz-api`` runs every phase on both).
APP_SCALE = fuzzapi.Scale.from_env(examples=3, phases="coverage,fuzzing")
SITE_SCALE = fuzzapi.Scale.from_env(examples=3, phases="fuzzing")


@dataclass
class Servers:
    app: AppServer
    site: SiteProcess
    tokens: dict[str, str]
    work: Path

    def url(self, target: str) -> str:
        return self.app.url if target == "app" else self.site.url

    def scale(self, target: str) -> fuzzapi.Scale:
        return APP_SCALE if target == "app" else SITE_SCALE


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    root = tmp_path_factory.mktemp("schemathesis")
    with app_and_site(root) as both:
        tokens = {"admin": both.admin_token, "user": both.app.token(Role.USER, "fuzz-user")}
        yield Servers(both.app, both.site, tokens, root)


def _check(servers: Servers, target: str, role: str, destructive: bool) -> None:
    work = servers.work / f"{target}-{role}-{'destructive' if destructive else 'safe'}"
    result = fuzzapi.run(servers.url(target), servers.tokens[role], servers.scale(target),
                         work, destructive=destructive)  # fmt: skip
    assert result.returncode == 0, fuzzapi.summary(result)
    assert " generated, " in result.stdout, result.stdout[-2000:]


@pytest.mark.parametrize("role", ["admin", "user"])
@pytest.mark.parametrize("target", ["app", "site"])
def test_every_operation_conforms(servers: Servers, target: str, role: str) -> None:
    _check(servers, target, role, destructive=False)


@pytest.mark.parametrize(
    ("target", "role"), [("app", "user"), ("site", "user"), ("site", "admin"), ("app", "admin")]
)
def test_operations_that_end_the_callers_access_conform(
    servers: Servers, target: str, role: str
) -> None:
    """Last in this module: these may revoke the run's own token."""
    _check(servers, target, role, destructive=True)
