"""A stolen Site Server box reaches only that site (issue 15, item 1), on real processes: an
App Server and two Site Servers (north, south) behind controllable links.

What an attacker takes from a site box — its data directory (replica included), its command
line and environment — gives no HQ admin cookie; a cookie a site made is taken nowhere else;
the replica holds no password hash; card hashes differ per site; offline password logins
use only the site's own cache, and never an administrator's.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.signer import SigningAlgorithm

from printwarden import security
from printwarden.testing import forkserver
from printwarden.web.sessions import SESSION_COOKIE
from support.seeding import wait_for
from support.site import World, another_site, site_world
from support.web import csrf_of

PASSWORD = "correct horse battery"
ADMIN_PASSWORD = "the chief's own password"
CARD, IDENTITY, PIN = "0004711-Trust", "ID-TRUST-1", "2468"


@dataclass
class Sites:
    north: World
    south: World

    @property
    def hq(self) -> str:
        return self.north.app.url


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    root = tmp_path_factory.mktemp("trust")
    # Exec'd, not forked: the thief reads the site's command line and environment.
    with (
        forkserver.executing(),
        site_world(root) as north,
        another_site(north.app, north.admin, root, "south") as south,
    ):
        made = Sites(north, south)
        _people(made)
        yield made


def _people(sites: Sites) -> None:
    admin = sites.north.admin
    worker = {"username": "worker", "password": PASSWORD, "cards": [CARD],
              "identity_number": IDENTITY, "pin": PIN}  # fmt: skip
    chief = {"username": "chief", "password": ADMIN_PASSWORD, "is_admin": True}
    for body in (worker, chief, {"username": "newcomer", "password": PASSWORD}):
        answer = admin.post("/users", json=body)
        assert answer.status_code == 201, answer.text
    for place in (sites.north, sites.south):
        wait_for(place.caught_up, "the site caught up")


def web(base: str, cookies: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=30, follow_redirects=False, cookies=cookies)


def web_login(base: str, username: str, password: str) -> tuple[int, str | None]:
    """Log in at ``base``'s web form: the status, and the session cookie if one was set."""
    with web(base) as client:
        form = client.get("/web/login")
        assert form.status_code == 200, form.text
        body = {"username": username, "password": password, "csrf_token": csrf_of(form)}
        answer = client.post("/web/login", data=body)
        return answer.status_code, answer.cookies.get(SESSION_COOKIE)


def opens(base: str, cookie: str, path: str) -> bool:
    """Whether ``cookie`` opens ``path`` at ``base`` (else: sent to log in, or refused)."""
    with web(base, {SESSION_COOKIE: cookie}) as client:
        answer = client.get(path)
    if answer.status_code == 200:
        return True
    assert answer.status_code in (303, 403), answer.text[:500]
    return False


def api_login(base: str, username: str, password: str) -> int:
    body = {"username": username, "password": password}
    return httpx.post(f"{base}/api/v1/auth/login", json=body, timeout=30).status_code


def device_login(place: World, **body: str) -> int:
    headers = {"Authorization": f"Bearer {place.device_token}"}
    answer = httpx.post(f"{place.site.api}/device/sessions", json=body, headers=headers, timeout=30)
    return answer.status_code


def replica(place: World) -> sqlite3.Connection:
    path = place.site.data_dir / "replica.db"
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def rows(place: World, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with replica(place) as db:
        return list(db.execute(query, args))


def test_a_site_keeps_its_own_secret_and_never_hqs(sites: Sites) -> None:
    hq_secret = (sites.north.app.data_dir / "secret.key").read_bytes().strip()
    for place in (sites.north, sites.south):
        for found in loot(place):
            assert hq_secret not in found
        data_dir = place.site.data_dir
        assert (data_dir / "site.key").stat().st_mode & 0o777 == 0o600
        assert (data_dir / "hq-keys.json").stat().st_mode & 0o777 == 0o600
    north = (sites.north.site.data_dir / "site.key").read_bytes()
    assert north != (sites.south.site.data_dir / "site.key").read_bytes()


def test_a_sites_keys_reach_only_that_site(sites: Sites) -> None:
    url = f"{sites.hq}/api/v1/sites/north/keys"
    own = httpx.get(url, headers={"Authorization": f"Bearer {sites.north.site.token}"})
    assert own.status_code == 200
    assert own.json()["card_key"] == site_keys(sites.north)["card_key"]
    other = httpx.get(url, headers={"Authorization": f"Bearer {sites.south.site.token}"})
    assert other.status_code == 403
    admin = sites.north.admin.get("/sites/north/keys")
    assert admin.status_code == 403  # not even an administrator: it is the site's


def test_the_replica_holds_no_password_hash(sites: Sites) -> None:
    for place in (sites.north, sites.south):
        found = rows(place, "SELECT username, password_hash FROM users")
        assert {"worker", "chief", "newcomer"} <= {name for name, _ in found}
        assert [name for name, hashed in found if hashed is not None] == []


def test_the_replica_holds_print_urls_as_hashes_only(sites: Sites) -> None:
    made = sites.north.admin.post("/users/worker/print-tokens", json={"label": "phone"})
    assert made.status_code == 201, made.text
    token = str(made.json()["token"])
    for place in (sites.north, sites.south):
        wait_for(place.caught_up, "the print URL at the site")
        stored = rows(place, "SELECT token_hash FROM print_tokens WHERE id = ?", made.json()["id"])
        assert stored == [(hashlib.sha256(token.encode()).hexdigest(),)]
        box = [p for p in place.site.data_dir.rglob("*") if p.is_file()]
        assert not [p for p in box if token.encode() in p.read_bytes()]  # the replica too


def test_card_and_identity_hashes_are_the_sites_own(sites: Sites) -> None:
    with sqlite3.connect(f"file:{sites.north.app.data_dir.parent / 'app.db'}?mode=ro",
                         uri=True) as db:  # fmt: skip
        (hq_card,) = db.execute(
            "SELECT card_hash FROM user_cards JOIN users ON users.id = user_id "
            "WHERE username = 'worker'"
        ).fetchone()
    found = {}
    for name, place in (("north", sites.north), ("south", sites.south)):
        (card,) = rows(place, "SELECT card_hash FROM user_cards JOIN users ON users.id = user_id "
                              "WHERE username = 'worker'")  # fmt: skip
        (identity,) = rows(place, "SELECT identity_hash FROM users WHERE username = 'worker'")
        found[name] = (card[0], identity[0])
    assert len({hq_card, found["north"][0], found["south"][0]}) == 3
    for name, place in (("north", sites.north), ("south", sites.south)):
        key = bytes.fromhex(site_keys(place)["card_key"])
        assert found[name] == (security.card_hash(key, CARD), security.identity_hash(key, IDENTITY))
    north_key = bytes.fromhex(site_keys(sites.north)["card_key"])
    assert security.card_hash(north_key, CARD) != found["south"][0]  # one site's key ...
    assert not rows(
        sites.south,
        "SELECT 1 FROM user_cards WHERE card_hash = ?",
        security.card_hash(north_key, CARD),
    )  # ... matches nothing at another
    assert security.identity_hash(north_key, IDENTITY) != found["south"][1]
    with sites.north.outage(), sites.south.outage():
        for place in (sites.north, sites.south):  # each site matches its own hashes offline
            assert device_login(place, method="card", card_number=CARD) == 201
            assert device_login(place, method="identity", identity_number=IDENTITY,
                                pin=PIN) == 201  # fmt: skip
            assert device_login(place, method="card", card_number="no-such-card") == 401


def site_keys(place: World) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((place.site.data_dir / "hq-keys.json").read_text())
    return found


# --- what a thief does with a site box ------------------------------------------------------


def loot(place: World) -> list[bytes]:
    """Everything on a site box that could be key material: each file of its data directory
    (and each value in a JSON file), each file its command line names, its environment."""
    found: list[bytes] = []
    assert place.site.process is not None
    pid = place.site.process.pid
    arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    named = [Path(a.decode()) for a in arguments if a.startswith(b"/")]
    files = [p for p in [*place.site.data_dir.rglob("*"), *named] if p.is_file()]
    found += arguments
    for path in files:
        content = path.read_bytes()
        if content.startswith(b"SQLite format") or path.suffix in (".db-wal", ".db-shm"):
            continue
        found.append(content.strip())
        if path.suffix == ".json":
            found += _json_values(json.loads(content))
    environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    found += [v.partition(b"=")[2] for v in environment if v.startswith(b"PRINTWARDEN")]
    return [value for value in found if value]


def _json_values(value: Any) -> list[bytes]:
    if isinstance(value, dict):
        return [b for v in value.values() for b in _json_values(v)]
    if isinstance(value, str):
        found = [value.encode()]
        with contextlib.suppress(ValueError):
            found.append(bytes.fromhex(value))
        return found
    return []


class _Ed25519(SigningAlgorithm):
    """The thief's copy of how printwarden signs cookies (public code)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.key = key

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return self.key.sign(key + value)

    def verify_signature(self, key: bytes, value: bytes, sig: bytes) -> bool:
        try:
            self.key.public_key().verify(sig, key + value)
        except InvalidSignature:
            return False
        return True


def _hkdf(secret: bytes, purpose: str) -> bytes:
    info = f"printwarden/{purpose}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def forged_admin_cookies(candidates: list[bytes], admin: dict[str, Any]) -> list[str]:
    """Admin session cookies made every way printwarden has signed them, with every
    candidate key; the session's fields from the stolen replica."""
    stamps = {admin.get("password_hash") or "", admin.get("password_stamp") or ""}
    sessions = [
        {"user_id": admin["id"], "username": admin["username"], "role": "admin",
         "sid": secrets.token_urlsafe(18), "csrf": secrets.token_urlsafe(24),
         "fingerprint": hashlib.sha256(f"{stamp}|True".encode()).hexdigest()[:16]}
        for stamp in stamps
    ]  # fmt: skip
    digest: dict[str, Any] = {"digest_method": hashlib.sha256}
    cookies = []
    for candidate in dict.fromkeys(candidates):
        # Before issue 15: HMAC under a key derived from HQ's secret.
        key = hmac.new(candidate, b"printwarden web cookies", hashlib.sha256).hexdigest()
        old = URLSafeTimedSerializer(key, salt="web-session", signer_kwargs=digest)
        cookies += [str(old.dumps(session)) for session in sessions]
        # Since: Ed25519, from the candidate taken as a secret, or as the key itself.
        private = [Ed25519PrivateKey.from_private_bytes(_hkdf(candidate, "web-cookies/ed25519/v1"))]
        if len(candidate) == 32:
            private.append(Ed25519PrivateKey.from_private_bytes(candidate))
        for issuer in ("hq", "site:north"):
            for signing in private:
                kwargs: dict[str, Any] = {**digest, "algorithm": _Ed25519(signing)}
                label, salt = f"printwarden web cookies of {issuer}", f"web-session {issuer}"
                new = URLSafeTimedSerializer(label, salt=salt, signer_kwargs=kwargs)
                cookies += [str(new.dumps({**s, "issuer": issuer})) for s in sessions]
    return cookies


def test_everything_on_a_stolen_site_box_gives_no_admin_cookie_for_hq(sites: Sites) -> None:
    north = sites.north
    status, genuine = web_login(north.site.url, "chief", ADMIN_PASSWORD)  # through the site
    assert status == 303
    assert genuine is not None
    assert opens(sites.hq, genuine, "/web/admin/")  # the check can tell a cookie that works
    with replica(north) as db:
        db.row_factory = sqlite3.Row
        found = db.execute("SELECT * FROM users WHERE username = 'chief'").fetchone()
        admin = {key: found[key] for key in found.keys()}  # noqa: SIM118 (sqlite3.Row)
    candidates = loot(north)
    assert candidates
    forged = forged_admin_cookies(candidates, admin)
    assert len(forged) > 20
    for cookie in forged:
        assert not opens(sites.hq, cookie, "/web/admin/"), "HQ took a cookie forged at a site"
        assert not opens(sites.hq, cookie, "/web/admin/users")


def test_a_cookie_made_at_a_site_is_taken_nowhere_else(sites: Sites) -> None:
    north, south = sites.north, sites.south
    status, hq_cookie = web_login(north.site.url, "worker", PASSWORD)  # online: HQ's session
    assert status == 303
    assert hq_cookie is not None
    with north.outage(), south.outage():
        status, site_cookie = web_login(north.site.url, "worker", PASSWORD)  # the cached one
        assert status == 303
        assert site_cookie is not None
        assert opens(north.site.url, site_cookie, "/web/portal/")
        assert not opens(south.site.url, site_cookie, "/web/portal/")
        assert not opens(sites.hq, site_cookie, "/web/portal/")
        # HQ's session stays valid at every site while it answers offline.
        assert opens(north.site.url, hq_cookie, "/web/portal/")
        assert opens(south.site.url, hq_cookie, "/web/portal/")
    assert not opens(sites.hq, site_cookie, "/web/portal/")
    assert not opens(north.site.url, site_cookie, "/web/portal/")  # online: HQ answers
    assert opens(sites.hq, hq_cookie, "/web/portal/")


def test_offline_passwords_come_only_from_the_sites_own_cache_and_never_for_admins(
    sites: Sites,
) -> None:
    north = sites.north
    assert api_login(north.site.url, "worker", PASSWORD) == 200  # online, through the site
    assert api_login(north.site.url, "chief", ADMIN_PASSWORD) == 200
    assert web_login(north.site.url, "chief", ADMIN_PASSWORD)[0] == 303
    assert device_login(north, method="password", username="chief",
                        password=ADMIN_PASSWORD) == 201  # fmt: skip
    cached = {name for (name,) in rows(north, "SELECT username FROM password_cache")}
    assert "worker" in cached
    assert "chief" not in cached  # an administrator's password is never kept
    with north.outage():
        assert api_login(north.site.url, "worker", PASSWORD) == 200
        body = {"username": "worker", "password": PASSWORD}
        token = httpx.post(f"{north.site.api}/auth/login", json=body, timeout=30).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{north.site.api}/me", headers=bearer).status_code == 200
        for elsewhere in (sites.hq, sites.south.site.url):  # a token made at a site stays there
            assert httpx.get(f"{elsewhere}/api/v1/me", headers=bearer).status_code == 401
        assert api_login(north.site.url, "worker", "not it") == 401
        assert api_login(north.site.url, "newcomer", PASSWORD) == 401  # never logged in here
        assert api_login(north.site.url, "chief", ADMIN_PASSWORD) == 401
        assert web_login(north.site.url, "chief", ADMIN_PASSWORD)[0] == 401
        assert device_login(north, method="password", username="chief",
                            password=ADMIN_PASSWORD) == 401  # fmt: skip
        assert api_login(sites.south.site.url, "worker", PASSWORD) == 200  # south is online


def test_a_re_keyed_site_gets_its_users_again_under_a_new_key(sites: Sites) -> None:
    north = sites.north
    before = site_keys(north)
    answer = north.admin.post("/sites/north/rekey")
    assert answer.status_code == 200, answer.text
    assert answer.json()["key_generation"] == before["key_generation"] + 1
    wait_for(lambda: site_keys(north)["key_generation"] == before["key_generation"] + 1,
             "north's new key")  # fmt: skip
    new_key = bytes.fromhex(site_keys(north)["card_key"])
    assert new_key != bytes.fromhex(before["card_key"])
    query = "SELECT 1 FROM user_cards WHERE card_hash = ?"
    wait_for(lambda: rows(north, query, security.card_hash(new_key, CARD)), "cards re-hashed")
    old = security.card_hash(bytes.fromhex(before["card_key"]), CARD)
    assert not rows(north, query, old)
    assert site_keys(sites.south) != before  # south untouched: its own key
    wait_for(north.caught_up, "north caught up")
    with north.outage():
        assert device_login(north, method="card", card_number=CARD) == 201
