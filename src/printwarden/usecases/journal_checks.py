"""What a site may journal: its charges checked before any entry of an upload is applied.

Each ``printed`` and ``usage`` entry must name a printer or device of the sending site (or of
none: those are replicated to every site), a user HQ knows and, for usage, an account that
user may charge; and its cost must be explained by the facts it reports under prices HQ
published for that printer or device, or come from a print script HQ published for that
printer (``domain/charges.py``). An entry that fails is rejected with the reason; the others
are applied. What the checks load (printers, devices, people) is what the batch then charges
with (``usecases/journal_batch.py``), and each distinct job shape is costed once.

An entry that is not well-formed — a required field missing, a count of the wrong type or out
of range, an id or name longer than HQ stores — is no charge to judge: it refuses the whole
upload (:class:`Malformed`, a 422).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from sqlalchemy import String, func, literal, select
from sqlalchemy.orm import Session

from printwarden.domain import charges
from printwarden.domain.accounts import AccountKind, User, may_use
from printwarden.domain.charges import Refused
from printwarden.domain.costs import CostModel, JobUsage, job_cost
from printwarden.domain.money import Currency
from printwarden.store import accounts, bulk, ledger, published
from printwarden.store.models import (
    AccountRow,
    DeviceRow,
    GroupRow,
    MembershipRow,
    PrinterRow,
    UserRow,
)
from printwarden.store.printers import cost_model_from_json

USAGE_KINDS = frozenset({"copy", "scan", "fax"})
REQUIRED = {
    "printed": ("txn_id", "username", "printer", "pages"),
    "usage": ("usage_id", "device", "username", "account_id", "pages"),
    "held": ("job_ref",),
    "held-report": ("job_ref", "provider", "provider_job_id", "queue", "queue_kind", "username"),
    "unknown-user": ("username",),
    "voucher": ("code", "txn_id", "username", "amount"),
    "cash": ("insertion_id", "device", "username", "amount", "currency", "txn_id"),
}
# The longest value HQ stores of these fields (``store/models.py``): a longer one is
# malformed, never cut to fit or left to fail in the database.
LONGEST = {"txn_id": 40, "usage_id": 40, "job_ref": 80, "paper_size": 32, "released_to": 128}
# The facts of a job, in the order a shape is keyed by (``usage_of``).
USAGE_FIELDS = ("pages", "colour_pages", "copies", "duplex", "paper_size")
_SEPARATOR = "\x1f"
_GROUPS = (
    select(func.aggregate_strings(GroupRow.name, _SEPARATOR))
    .join(MembershipRow, MembershipRow.group_id == GroupRow.id)
    .where(MembershipRow.user_id == UserRow.id)
    .scalar_subquery()
)


class Malformed(ValueError):
    """An entry that is not well-formed (a field missing or of the wrong kind)."""


@dataclass(frozen=True, slots=True)
class Place:
    """A printer or device as HQ knows it (deleted ones too: a job printed before the
    deletion is still charged)."""

    id: int
    site: str | None
    current: CostModel
    versions: dict[str, CostModel]  # every published version, by digest
    scripts: frozenset[str] = frozenset()  # print scripts published for it or for all

    def models(self, name: str, digest: str) -> tuple[CostModel, ...]:
        """The prices the site says it used (``digest``); without one, any HQ published."""
        if not digest:
            return (self.current, *self.versions.values())
        found = self.versions.get(digest)
        if found is None:
            raise Refused(f"prices {digest!r} were never published for {name!r}")
        return (found,)


@dataclass(frozen=True, slots=True)
class Person:
    """A user an entry names: their personal account and groups; ``active`` when enabled
    and not deleted."""

    user_id: int
    account_id: int
    groups: frozenset[str]
    active: bool


@dataclass(slots=True)
class Checked:
    """The verdict on the charges of an upload, and what was loaded to reach it."""

    costs: dict[str, int] = field(default_factory=dict)  # entry id → the cost to charge
    rejected: dict[str, str] = field(default_factory=dict)  # entry id → why
    recorded: set[str] = field(default_factory=set)  # usage entries the ledger already has
    printers: dict[str, Place] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)


def check_many(
    session: Session,
    uploads: list[tuple[str, list[dict[str, Any]]]],
    currency: Currency | None = None,
) -> list[Checked]:
    """Check the charges of several sites' uploads (after checking every entry is
    well-formed: Malformed when any entry of any upload is not): what they name is loaded
    once, each upload is judged for its own site; refusals show amounts in ``currency``."""
    currency = currency or Currency()
    for _site, entries in uploads:
        _well_formed(entries)
    printed = [[e for e in entries if e["kind"] == "printed"] for _s, entries in uploads]
    usage = [[e for e in entries if e["kind"] == "usage"] for _s, entries in uploads]
    every_printed, every_usage = list(chain(*printed)), list(chain(*usage))
    loaded = Checked()
    devices: dict[str, Place] = {}
    found: dict[int, tuple[str, int | None]] = {}
    if every_printed or every_usage:
        devices, found = _load(session, loaded, every_printed, every_usage)
    verdicts = []
    for (site, _entries), its_printed, its_usage in zip(uploads, printed, usage, strict=True):
        checked = Checked(printers=loaded.printers, people=loaded.people)
        checked.recorded = {e["id"] for e in its_usage if e["id"] in loaded.recorded}
        _Judge(site, checked, currency).printed(its_printed)
        its_usage = [e for e in its_usage if e["id"] not in checked.recorded]
        if its_usage:
            _UsageJudge(session, site, checked, devices, found, currency).usage(its_usage)
        verdicts.append(checked)
    return verdicts


def _load(
    session: Session, loaded: Checked, printed: list[dict[str, Any]], usage: list[dict[str, Any]]
) -> tuple[dict[str, Place], dict[int, tuple[str, int | None]]]:
    """What the entries name, into ``loaded``; the devices and the usage entries' accounts."""
    found: dict[int, tuple[str, int | None]] = {}
    with bulk.custom_plans(session):
        loaded.printers = _places(session, PrinterRow, "printer", _names(printed, "printer"))
        devices = _places(session, DeviceRow, "device", _names(usage, "device"))
        places = [*loaded.printers.values(), *devices.values()]
        grouped = any(m.group_modifiers for p in places for m in (p.current, *p.versions.values()))
        names = _names(printed, "username") | _names(usage, "username")
        loaded.people = _people(session, names, grouped)
        if usage:
            loaded.recorded = _recorded_usage(session, usage)
            usage = [e for e in usage if e["id"] not in loaded.recorded]
            found = _accounts(session, {int(e["body"]["account_id"]) for e in usage})
    return devices, found


def _well_formed(entries: list[dict[str, Any]]) -> None:
    """Every entry has its required fields (a job's counts are checked as it is judged,
    once per distinct shape)."""
    for entry in entries:
        kind, body = entry["kind"], entry["body"]
        required = REQUIRED.get(kind, ())
        if None in map(body.get, required):
            missing = ", ".join(name for name in required if body.get(name) is None)
            raise Malformed(f"entry {entry['id']} ({kind}): {missing} missing")
        if kind == "usage" and type(body["account_id"]) is not int:
            raise Malformed(f"entry {entry['id']} (usage): account_id is not an id")
        for name, most in LONGEST.items():
            value = body.get(name)
            if value is not None and len(str(value)) > most:
                raise Malformed(f"entry {entry['id']} ({kind}): {name} is longer than {most}")


class _Facts:
    """What jobs printed or used, as sent, checked possible once per distinct shape."""

    def __init__(self, read: Callable[[dict[str, Any]], JobUsage]) -> None:
        self.read = read
        self.known: dict[tuple[Any, ...], JobUsage] = {}

    def of(self, entry: dict[str, Any]) -> tuple[tuple[Any, ...], JobUsage]:
        """The entry's facts and its usage; Malformed when they are impossible."""
        facts = tuple(map(entry["body"].get, USAGE_FIELDS))
        try:
            found = self.known.get(facts)
        except TypeError:  # a list or an object where a count belongs
            raise Malformed(f"entry {entry['id']}: its counts are not numbers") from None
        if found is not None:
            return facts, found
        try:
            found = self.known[facts] = self.read(entry["body"])
        except ValueError as exc:
            raise Malformed(f"entry {entry['id']} ({entry['kind']}): {exc}") from None
        return facts, found


def _names(entries: list[dict[str, Any]], key: str) -> set[str]:
    return {str(e["body"][key]) for e in entries}


class _Expected:
    """The costs the published prices of a printer or device give a job shape, for a user's
    groups: each distinct one computed once."""

    def __init__(self) -> None:
        self.known: dict[tuple[Any, ...], tuple[int, ...]] = {}

    def of(
        self, place: Place, name: str, body: dict[str, Any], person: Person,
        shape: tuple[Any, ...], usage: JobUsage,
    ) -> tuple[int, ...]:  # fmt: skip
        digest = str(body.get("cost_model") or "")
        key = (name, digest, person.groups, shape)
        found = self.known.get(key)
        if found is None:
            models = place.models(name, digest)
            found = self.known[key] = tuple(job_cost(m, usage, person.groups) for m in models)
        return found


class _Judge:
    """The printed entries' verdicts; each distinct job shape costed once."""

    def __init__(self, site: str, checked: Checked, currency: Currency) -> None:
        self.site = site
        self.checked = checked
        self.currency = currency
        self.expected = _Expected()

    def printed(self, entries: list[dict[str, Any]]) -> None:
        costs, rejected = self.checked.costs, self.checked.rejected
        facts = _Facts(usage_of)
        for entry in entries:
            shape, usage = facts.of(entry)
            try:
                costs[entry["id"]] = self._printed(entry["body"], shape, usage)
            except Refused as exc:
                rejected[entry["id"]] = str(exc)

    def _printed(self, body: dict[str, Any], shape: tuple[Any, ...], usage: JobUsage) -> int:
        name = str(body["printer"])
        printer = self.checked.printers.get(name)
        if printer is None:
            raise Refused(f"unknown printer {name!r}")
        charges.check_place("printer", name, printer.site, self.site)
        person = self.checked.people.get(str(body["username"]))
        if person is None:
            raise Refused(f"unknown user {body['username']!r}")
        override = body.get("cost_override")
        if override is not None:
            script = str(body.get("script") or "")
            return charges.overridden(
                override, body.get("cost"), script, printer.scripts, name, self.currency
            )
        expected = self.expected.of(printer, name, body, person, shape, usage)
        cost = body.get("cost")
        if type(cost) is int and cost >= 0 and cost in expected:
            return cost  # the common case, checked inline
        return charges.explained(cost, expected, self.currency)


class _UsageJudge:
    """The walk-up usage entries' verdicts."""

    def __init__(
        self,
        session: Session,
        site: str,
        checked: Checked,
        devices: dict[str, Place],
        found: dict[int, tuple[str, int | None]],
        currency: Currency,
    ) -> None:
        self.session, self.site, self.checked = session, site, checked
        self.currency = currency
        self.devices, self.accounts = devices, found
        self.expected = _Expected()
        self.shared: dict[tuple[str, int], bool] = {}

    def usage(self, entries: list[dict[str, Any]]) -> None:
        facts = _Facts(walk_up_usage)
        for entry in entries:
            shape, usage = facts.of(entry)
            try:
                self.checked.costs[entry["id"]] = self._usage(entry["body"], shape, usage)
            except Refused as exc:
                self.checked.rejected[entry["id"]] = str(exc)

    def _usage(self, body: dict[str, Any], shape: tuple[Any, ...], usage: JobUsage) -> int:
        name, username = str(body["device"]), str(body["username"])
        device = self.devices.get(name)
        if device is None:
            raise Refused(f"unknown device {name!r}")
        charges.check_place("device", name, device.site, self.site)
        if body.get("kind", "copy") not in USAGE_KINDS:
            raise Refused(f"usage of kind {body.get('kind')!r}: only copy, scan or fax")
        person = self.checked.people.get(username)
        if person is None:
            raise Refused(f"unknown user {username!r}")
        self._check_account(username, person, int(body["account_id"]))
        expected = self.expected.of(device, name, body, person, shape, usage)
        return charges.explained(body.get("cost"), expected, self.currency)

    def _check_account(self, username: str, person: Person, account_id: int) -> None:
        found = self.accounts.get(account_id)
        if found is None:
            raise Refused(f"no account {account_id}")
        kind, owner = found
        if kind == AccountKind.PERSONAL.value:
            if owner != person.user_id:
                raise Refused(f"account {account_id} is not {username}'s")
            return
        key = (username, account_id)
        if key not in self.shared:
            self.shared[key] = _may_use_shared(self.session, person, account_id)
        if not self.shared[key]:
            raise Refused(f"{username} may not charge shared account {account_id}")


def _may_use_shared(session: Session, person: Person, account_id: int) -> bool:
    """Whether the person may charge this shared account (a grant to them or their group)."""
    account = accounts.to_domain(session, accounts.find_account(session, account_id))
    return may_use(User(person.user_id, "", True, person.groups), account)


def usage_of(body: dict[str, Any]) -> JobUsage:
    """What a printed entry printed, per copy (a ValueError for impossible counts)."""
    return JobUsage(
        pages=_count(body, "pages", 0),
        colour_pages=_count(body, "colour_pages", 0),
        copies=_count(body, "copies", 1),
        duplex=bool(body.get("duplex")),
        paper_size=str(body.get("paper_size") or "A4"),
    )


def walk_up_usage(body: dict[str, Any]) -> JobUsage:
    """What a walk-up usage entry used (one copy: ``pages`` counts them all)."""
    return JobUsage(
        pages=_count(body, "pages", 0),
        colour_pages=_count(body, "colour_pages", 0),
        copies=1,
        duplex=bool(body.get("duplex")),
        paper_size=str(body.get("paper_size") or "A4"),
    )


def _count(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise Malformed(f"{name} {value!r} is not a count")
    return value


def _places(
    session: Session, model: type[PrinterRow] | type[DeviceRow], kind: str, names: set[str]
) -> dict[str, Place]:
    """The printers or devices named, with every price version HQ published for them."""
    if not names:
        return {}
    rows = session.execute(
        select(model.name, model.id, model.site, model.cost_model).where(
            bulk.among(session, model.name, names)
        )
    ).all()
    found = {str(name) for name, *_ in rows}
    versions = published.versions(session, kind, found)
    scripts: dict[str, dict[str, Any]] = {}
    if kind == "printer":
        scripts = published.versions(session, "script", found | {""})
    every = frozenset(scripts.get("", {}))
    return {
        name: Place(
            id=row_id,
            site=site,
            current=cost_model_from_json(current),
            versions={d: cost_model_from_json(c) for d, c in versions.get(name, {}).items()},
            scripts=every | frozenset(scripts.get(name, {})),
        )
        for name, row_id, site, current in rows
    }


def _people(session: Session, names: set[str], grouped: bool) -> dict[str, Person]:
    """username → Person, deleted and disabled users included. Groups only change a cost
    through group modifiers: when no price has any, they are not loaded."""
    if not names:
        return {}
    groups = _GROUPS if grouped else literal(None, String)
    active = UserRow.deleted_at.is_(None) & UserRow.enabled
    rows = session.execute(
        select(UserRow.username, UserRow.id, AccountRow.id, groups, active)
        .join(AccountRow, AccountRow.owner_id == UserRow.id)
        .where(bulk.among(session, UserRow.username, names))
    )
    return {
        name: Person(user_id, account_id, _split(joined), bool(on))
        for name, user_id, account_id, joined, on in rows
    }


def _split(joined: str | None) -> frozenset[str]:
    return frozenset(joined.split(_SEPARATOR)) if joined else frozenset()


def _recorded_usage(session: Session, entries: Iterable[dict[str, Any]]) -> set[str]:
    """The usage entries whose ``usage_id`` the ledger holds already (charged online, say):
    applying them would change nothing, so they are not judged."""
    by_usage = {str(e["body"]["usage_id"]): str(e["id"]) for e in entries}
    return {by_usage[txn] for txn in ledger.recorded(session, list(by_usage))}


def _accounts(session: Session, ids: set[int]) -> dict[int, tuple[str, int | None]]:
    """account id → (kind, owner id) of the accounts named (deleted ones too: a deleted
    user's kept personal account is still charged)."""
    if not ids:
        return {}
    rows = session.execute(
        select(AccountRow.id, AccountRow.kind, AccountRow.owner_id).where(
            bulk.among(session, AccountRow.id, ids)
        )
    )
    return {int(i): (str(kind), owner) for i, kind, owner in rows}
