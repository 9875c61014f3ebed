"""Purpose keys, sealed numbers and a site's card key (``printwarden.keys``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from printwarden import keys, security

SECRET = b"a" * 64
OTHER = b"b" * 64


def test_each_purpose_and_each_secret_has_its_own_key() -> None:
    found = {
        keys.purpose_key(SECRET, keys.SEAL_PURPOSE),
        keys.purpose_key(SECRET, keys.COOKIE_PURPOSE),
        keys.purpose_key(OTHER, keys.SEAL_PURPOSE),
        keys.site_card_key(SECRET, "north", 1),
        keys.site_card_key(SECRET, "north", 2),
        keys.site_card_key(SECRET, "south", 1),
        keys.site_card_key(OTHER, "north", 1),
        SECRET,
    }
    assert len(found) == 8
    assert all(len(key) == 32 for key in found - {SECRET})
    assert keys.purpose_key(SECRET, "x") == keys.purpose_key(SECRET, "x")  # derived, not random
    with pytest.raises(ValueError, match="needs a secret"):
        keys.purpose_key(b"", "x")


def test_a_site_card_key_matches_only_its_own_hashes() -> None:
    north, south = keys.site_card_key(SECRET, "north", 1), keys.site_card_key(SECRET, "south", 1)
    card = "0012345"
    hashes = {security.card_hash(k, card) for k in (SECRET, north, south)}
    assert len(hashes) == 3
    assert security.card_hash(north, "12345") == security.card_hash(north, card)


def test_the_many_numbers_hasher_hashes_as_one_at_a_time() -> None:
    hasher = security.NumberHasher(SECRET)
    for number in ("0012345", " ab-1 ", "0"):
        assert hasher.card(number) == security.card_hash(SECRET, number)
        assert hasher.identity(number) == security.identity_hash(SECRET, number)
    assert hasher.card("1") == hasher.card("01")  # its state is copied, never consumed


def test_a_sealed_number_opens_only_with_its_key_kind_and_hash() -> None:
    hashed = security.card_hash(SECRET, "4711")
    sealed = keys.seal(SECRET, keys.CARD, hashed, "4711")
    assert b"4711" not in sealed
    assert keys.seal(SECRET, keys.CARD, hashed, "4711") != sealed  # a fresh nonce each time
    assert keys.unseal(SECRET, keys.CARD, hashed, sealed) == "4711"
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    for secret, kind, bound, value in (
        (OTHER, keys.CARD, hashed, sealed),  # another HQ's secret
        (SECRET, keys.IDENTITY, hashed, sealed),  # sealed as a card, opened as an identity
        (SECRET, keys.CARD, security.card_hash(SECRET, "4712"), sealed),  # moved to another card
        (SECRET, keys.CARD, hashed, tampered),
    ):
        with pytest.raises(ValueError, match="does not open"):
            keys.unseal(secret, kind, bound, value)


def test_a_servers_own_secret_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / keys.SITE_SECRET_FILE
    first = keys.secret_in(path)
    assert len(first) == 64
    assert path.stat().st_mode & 0o777 == 0o600
    assert keys.secret_in(path) == first
    assert keys.secret_in(tmp_path / "other" / "site.key") != first


def test_the_app_servers_secret_is_kept_the_same_way(tmp_path: Path) -> None:
    from printwarden.config import Settings

    settings = Settings(data_dir=tmp_path / "hq")
    first = settings.resolved_secret()
    assert len(first) == 64
    assert (tmp_path / "hq" / "secret.key").stat().st_mode & 0o777 == 0o600
    assert settings.resolved_secret() == first
    (tmp_path / "hq" / "secret.key").write_text("\n")  # emptied: never an empty secret
    with pytest.raises(ValueError, match="is empty"):
        settings.resolved_secret()
