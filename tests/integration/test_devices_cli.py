"""``printwarden device simulate`` and ``admin token create --device`` against a real App
Server, a real provider and real ippeveprinter printers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from support.devices import DeviceRig, device_rig, unique
from support.seeding import wait_for


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeviceRig]:
    with device_rig(tmp_path_factory.mktemp("devices")) as world:
        yield world


@pytest.fixture(scope="module")
def mfd(rig: DeviceRig) -> tuple[str, str]:
    """An MFD at the colour printer: its name and token."""
    return rig.add_device("colour-laser")


def card() -> str:
    """A card (or identity) number no other test uses."""
    return str(uuid.uuid4().int)[:14]


def test_token_for_a_device_is_bound_to_it(rig: DeviceRig, mfd: tuple[str, str]) -> None:
    name, token = mfd
    answer = rig.admin.get("/device", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == name
    assert answer.json()["printer"] == "colour-laser"


def test_token_for_an_unknown_device_is_refused(rig: DeviceRig) -> None:
    missing = rig.cli("admin", "token", "create", "--role", "device", "--device", "no-such")
    assert missing.returncode == 1
    assert "no device named 'no-such'" in missing.stdout
    wrong_role = rig.cli("admin", "token", "create", "--role", "provider", "--device", "x")
    assert wrong_role.returncode == 1
    assert "--role device" in wrong_role.stdout


def test_release_all_prints_held_and_findme_jobs_here_one_line_each(
    rig: DeviceRig, mfd: tuple[str, str]
) -> None:
    number = card()
    user = rig.add_user(1000, cards=[number])
    held_id, held_doc = rig.hold(user, b"release-all held\n", "secure")
    findme_id, findme_doc = rig.hold(user, b"release-all find me\n", "findme")
    result = rig.simulate(mfd[1], "--card", number, "release-all")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    by_id = {line.split()[1]: line for line in lines}
    assert set(by_id) == {held_id, findme_id}
    pattern = r"released \S+ {doc} at colour-laser, 1 page, \$0\.\d\d"
    assert re.fullmatch(pattern.format(doc=re.escape(held_doc)), by_id[held_id])
    assert re.fullmatch(pattern.format(doc=re.escape(findme_doc)), by_id[findme_id])
    rig.wait_printed("colour-laser", b"release-all held\n")
    rig.wait_printed("colour-laser", b"release-all find me\n")
    assert rig.open_sessions(user) == 0
    costs = sum(int(line.rsplit(" ", 1)[1].replace(".", "").removeprefix("$")) for line in lines)
    wait_for(lambda: rig.balance(user) == 1000 - costs, "the charges")


def test_release_all_with_nothing_held_prints_nothing(rig: DeviceRig, mfd: tuple[str, str]) -> None:
    number = card()
    rig.add_user(1000, cards=[number])
    result = rig.simulate(mfd[1], "--card", number, "release-all")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_unknown_card_fails_clearly_and_releases_nothing(
    rig: DeviceRig, mfd: tuple[str, str]
) -> None:
    result = rig.simulate(mfd[1], "--card", "999999999999", "release-all")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "login with card 999999999999 refused" in result.stderr


def test_bad_token_and_unreachable_server_fail_clearly(rig: DeviceRig) -> None:
    bad = rig.simulate("not-a-token", "--card", "1", "release-all")
    assert bad.returncode == 1
    assert "401" in bad.stderr or "refused" in bad.stderr
    gone = rig.cli(
        "device",
        "simulate",
        "--server",
        "http://127.0.0.1:9",
        "--card",
        "1",
        "list",
        env={"PRINTWARDEN_DEVICE_TOKEN": "t"},
    )
    assert gone.returncode == 1
    assert "no answer from http://127.0.0.1:9" in gone.stderr


def test_refused_job_goes_to_stderr_and_stays_held(rig: DeviceRig, mfd: tuple[str, str]) -> None:
    number = card()
    user = rig.add_user(5, cards=[number])
    job_id, document = rig.hold(user, b"too dear\n" * 400, "secure")
    result = rig.simulate(mfd[1], "--card", number, "release-all")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert f"refused {job_id} {document}: " in result.stderr
    assert rig.job_status(user, job_id) == "held"
    assert rig.balance(user) == 5


def test_list_change_release_and_cancel_one_job(rig: DeviceRig, mfd: tuple[str, str]) -> None:
    number = card()
    user = rig.add_user(1000, cards=[number])
    keep_id, keep_doc = rig.hold(user, b"changed then released\n")
    drop_id, _ = rig.hold(user, b"canceled\n")
    listing = rig.simulate(mfd[1], "--card", number, "list")
    assert listing.returncode == 0, listing.stderr
    assert {line.split()[0] for line in listing.stdout.splitlines()} == {keep_id, drop_id}
    assert "[held]" in listing.stdout
    changed = rig.simulate(
        mfd[1], "--card", number, "change", keep_id, "--copies", "2", "--duplex", "--grayscale"
    )
    assert changed.returncode == 0, changed.stderr
    assert "1 page × 2 copies" in changed.stdout
    assert changed.stdout.rstrip().endswith(": duplex, grayscale")
    # the test printers (ippeveprinter) print one side only: back to simplex before release
    simplex = rig.simulate(mfd[1], "--card", number, "change", keep_id, "--simplex", "--colour")
    assert simplex.returncode == 0, simplex.stderr
    assert simplex.stdout.rstrip().endswith(": simplex, as printed")
    released = rig.simulate(mfd[1], "--card", number, "release", keep_id)
    assert released.returncode == 0, released.stderr
    assert released.stdout.startswith(f"released {keep_id} {keep_doc} at colour-laser")
    rig.wait_printed("colour-laser", b"changed then released\n")
    canceled = rig.simulate(mfd[1], "--card", number, "cancel", drop_id)
    assert canceled.returncode == 0, canceled.stderr
    assert canceled.stdout.startswith(f"canceled {drop_id}")
    assert rig.job_status(user, drop_id) is None
    again = rig.simulate(mfd[1], "--card", number, "release", drop_id)
    assert again.returncode == 1
    assert again.stderr.startswith("error: ")
    assert rig.open_sessions(user) == 0
    assert b"canceled\n" not in rig.received("colour-laser")


def test_identity_and_password_logins(rig: DeviceRig, mfd: tuple[str, str]) -> None:
    identity = card()
    user = rig.add_user(1000, identity_number=identity, pin="2468", password="pass-word-1")
    job_id, _ = rig.hold(user, b"by identity\n")
    by_identity = rig.simulate(mfd[1], "--identity", identity, "--pin", "2468", "list")
    assert by_identity.returncode == 0, by_identity.stderr
    assert job_id in by_identity.stdout
    wrong_pin = rig.simulate(mfd[1], "--identity", identity, "--pin", "1111", "list")
    assert wrong_pin.returncode == 1
    assert "refused" in wrong_pin.stderr
    by_password = rig.simulate(mfd[1], "--username", user, "--password", "pass-word-1", "list")
    assert by_password.returncode == 0, by_password.stderr
    assert job_id in by_password.stdout
    two_ways = rig.simulate(mfd[1], "--card", "1", "--username", user, "list")
    assert two_ways.returncode == 1


def test_copy_for_a_restricted_user_stops_at_the_credit(
    rig: DeviceRig, mfd: tuple[str, str]
) -> None:
    number = card()
    user = rig.add_user(25, cards=[number])  # grey simplex pages cost 10
    result = rig.simulate(mfd[1], "--card", number, "copy", "5")
    assert result.returncode == 0, result.stderr
    assert "stopped after 2 of 5 pages" in result.stderr
    assert result.stdout.strip() == "copy 2 pages, $0.20, balance $0.05"
    assert rig.balance(user) == 5
    broke = rig.simulate(mfd[1], "--card", number, "copy", "1")
    assert broke.returncode == 1
    assert "no credit to copy" in broke.stderr
    assert rig.balance(user) == 5


def test_unrestricted_copy_scan_and_fax_are_charged(rig: DeviceRig, mfd: tuple[str, str]) -> None:
    number = card()
    user = rig.add_user(0, restricted=False, cards=[number])
    copied = rig.simulate(mfd[1], "--card", number, "copy", "3", "--colour")
    assert copied.returncode == 0, copied.stderr
    assert copied.stdout.startswith("copy 3 pages, $1.50, balance -$1.50")
    spent = 150
    for kind in ("scan", "fax"):
        result = rig.simulate(mfd[1], "--card", number, kind, "2")
        assert result.returncode == 0, result.stderr
        match = re.fullmatch(rf"{kind} 2 pages, \$(\d+)\.(\d\d), balance .*\n", result.stdout)
        assert match, result.stdout
        spent += int(match[1] + match[2])
    assert rig.balance(user) == -spent


def test_shared_account_selection_with_pin(rig: DeviceRig, mfd: tuple[str, str]) -> None:
    number = card()
    user = rig.add_user(1000, cards=[number])
    account = unique("Research")
    body = {"name": account, "pin": "1357", "users": [user], "restricted": False}
    created = rig.admin.post("/accounts", json=body)
    assert created.status_code == 201, created.text
    shown = rig.simulate(mfd[1], "--card", number, "account", account, "--account-pin", "1357")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"{user}: account {account}, balance $0.00")
    wrong = rig.simulate(mfd[1], "--card", number, "account", account, "--account-pin", "0000")
    assert wrong.returncode == 1
    assert "PIN" in wrong.stderr
    assert rig.open_sessions(user) == 0
    job_id, _ = rig.hold(user, b"charged to research\n")
    released = rig.simulate(
        mfd[1], "--card", number, "--account", account, "--account-pin", "1357", "release-all"
    )
    assert released.returncode == 0, released.stderr
    assert released.stdout.startswith(f"released {job_id}")
    rig.wait_printed("colour-laser", b"charged to research\n")
    wait_for(
        lambda: rig.admin.get(f"/accounts/{account}").json()["balance"] < 0, "the shared charge"
    )
    assert rig.balance(user) == 1000


def test_interactive_lists_and_releases(rig: DeviceRig, mfd: tuple[str, str]) -> None:
    number = card()
    user = rig.add_user(1000, cards=[number])
    _, document = rig.hold(user, b"interactive release\n")
    session = rig.simulate(mfd[1], "--card", number, "interactive", stdin="r 1\ncopy 1\nq\n")
    assert session.returncode == 0, session.stderr
    assert document in session.stdout
    assert "released " in session.stdout
    assert "copy 1 page, $0.10" in session.stdout
    rig.wait_printed("colour-laser", b"interactive release\n")
