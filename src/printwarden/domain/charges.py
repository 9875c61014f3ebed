"""What a component may charge, and how HQ explains a site's charge (pure rules).

A site journals what it charged while offline; HQ accepts a charge only when it can explain
it: the facts the site reports (pages, colour pages, sides, copies, paper size) priced by a
cost model HQ really published for that printer or device — or, for a print script's
``setCost``, an amount a script version HQ published for that printer set. Prices and
scripts are named by digest (:func:`prices_digest`, :func:`script_digest`), which the site
journals with each charge. Amounts are charges, never credits, and never negative.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence

from printwarden.domain.costs import CostModel
from printwarden.domain.money import Currency

_CURRENCY = Currency()  # the default: how refusals show amounts


class Refused(Exception):
    """An entry or request the component may not make; the message says why."""


def prices_digest(model: CostModel) -> str:
    """A short name for what ``model`` charges: equal models, equal digests (whatever the
    order or spelling of the stored JSON)."""
    sizes = {
        name: [p.grey_simplex, p.grey_duplex, p.colour_simplex, p.colour_duplex]
        for name, p in model.sizes.items()
    }
    canonical = {"base_cost": model.base_cost, "group_modifiers": dict(model.group_modifiers),
                 "sizes": sizes}  # fmt: skip
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def script_digest(source: str) -> str:
    """A short name for a print script's source."""
    return hashlib.sha256(source.encode()).hexdigest()[:32]


def belongs(owner: str | None, site: str) -> bool:
    """Whether a printer or device of ``owner`` (its site; None: every site's, since it is
    replicated to all of them) may be used by ``site``."""
    return owner is None or owner == site


def check_place(what: str, name: str, owner: str | None, site: str) -> None:
    """Refuse a printer or device (``what``) that belongs to another site than ``site``."""
    if not belongs(owner, site):
        raise Refused(f"{what} {name!r} belongs to site {owner!r}, not {site!r}")


def amount(value: object, what: str = "cost") -> int:
    """A charge's amount: an integer of minor units, never negative (a charge is never a
    credit)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise Refused(f"{what} {value!r} is not a whole amount of minor units")
    if value < 0:
        raise Refused(f"{what} {value} is negative: a charge is never a credit")
    return value


def overridden(
    override: object,
    claimed: object,
    script: str,
    published: Collection[str],
    printer: str,
    currency: Currency = _CURRENCY,
) -> int:
    """The charge of a job whose cost a print script set (``override``): accepted only from
    a script version (``script``, a digest) HQ published for ``printer`` or for every
    printer (``published``), and only as the cost the site charged (``claimed``, if given)."""
    cost = amount(override, "cost_override")
    if not script:
        raise Refused("cost_override without the print script that set it")
    if script not in published:
        raise Refused(f"cost_override from a print script HQ never published for {printer!r}")
    if claimed is not None and (found := amount(claimed)) != cost:
        show = currency.show
        raise Refused(f"cost {show(found)} differs from the script's cost_override {show(cost)}")
    return cost


def explained(claimed: object, expected: Sequence[int], currency: Currency = _CURRENCY) -> int:
    """The charge of a job the site costed itself: ``claimed`` must be one of the costs
    ``expected`` from its facts under prices HQ published (the first is charged when the
    site sent no cost)."""
    if claimed is None:
        return amount(expected[0])
    cost = amount(claimed)
    if cost not in expected:
        shown = " or ".join(map(currency.show, dict.fromkeys(expected)))
        raise Refused(
            f"cost {currency.show(cost)} is not what published prices give for these facts "
            f"({shown})"
        )
    return cost
