"""Cost model of a printer or device: exact arithmetic in minor units."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from printwarden.domain.money import apply_basis_points

DEFAULT_SIZE = "default"


@dataclass(frozen=True, slots=True)
class PagePrices:
    """Price of one printed page (one side) for one paper size, in minor units."""

    grey_simplex: int = 0
    grey_duplex: int = 0
    colour_simplex: int = 0
    colour_duplex: int = 0

    def page(self, *, colour: bool, duplex: bool) -> int:
        if colour:
            return self.colour_duplex if duplex else self.colour_simplex
        return self.grey_duplex if duplex else self.grey_simplex


@dataclass(frozen=True, slots=True)
class CostModel:
    """Per-page prices by paper size, a per-job base cost and group modifiers.

    ``sizes`` maps a paper size name (``"A4"``, ``"letter"``…) to its prices. A size that is
    not listed is charged at the printer's default price: ``sizes["default"]``, or, when
    the table has no default, the dearest listed price of each kind of page — never
    nothing, as an unpriced A3 or 4x6 job once was. Only an empty table prints for free.
    ``group_modifiers`` maps a group name to basis points (``-2000`` = 20 % discount,
    ``+1000`` = 10 % surcharge). A user in several groups gets the cheapest one.
    """

    sizes: Mapping[str, PagePrices] = field(default_factory=dict)
    base_cost: int = 0
    group_modifiers: Mapping[str, int] = field(default_factory=dict)

    def prices_for(self, paper_size: str) -> PagePrices:
        found = self.sizes.get(paper_size)
        if found is None:
            wanted = paper_size.lower()
            found = next((p for name, p in self.sizes.items() if name.lower() == wanted), None)
        if found is not None:
            return found
        return self.default_prices()

    def default_prices(self) -> PagePrices:
        """What a page of a size the table does not list costs (see the class docstring)."""
        default = self.sizes.get(DEFAULT_SIZE) or next(
            (p for name, p in self.sizes.items() if name.lower() == DEFAULT_SIZE), None
        )
        if default is not None:
            return default
        listed = self.sizes.values()
        return PagePrices(
            grey_simplex=max((p.grey_simplex for p in listed), default=0),
            grey_duplex=max((p.grey_duplex for p in listed), default=0),
            colour_simplex=max((p.colour_simplex for p in listed), default=0),
            colour_duplex=max((p.colour_duplex for p in listed), default=0),
        )

    def modifier_for(self, groups: frozenset[str]) -> int:
        applicable = [self.group_modifiers[g] for g in groups if g in self.group_modifiers]
        return min(applicable, default=0)


@dataclass(frozen=True, slots=True)
class JobUsage:
    """What a job prints, per copy. ``pages`` is ``None`` when it could not be counted."""

    pages: int | None
    colour_pages: int = 0
    copies: int = 1
    duplex: bool = False
    paper_size: str = "A4"

    def __post_init__(self) -> None:
        if self.pages is not None and self.pages < 0:
            raise ValueError("pages must be >= 0")
        if self.colour_pages < 0 or self.copies < 1:
            raise ValueError("colour_pages must be >= 0 and copies >= 1")
        if self.colour_pages > (self.pages or 0):
            raise ValueError("colour_pages cannot exceed pages")

    @property
    def grey_pages(self) -> int:
        return (self.pages or 0) - self.colour_pages

    @property
    def total_pages(self) -> int:
        """Printed pages (sides) over all copies."""
        return (self.pages or 0) * self.copies

    @property
    def sheets(self) -> int:
        """Sheets of paper over all copies."""
        per_copy = self.pages or 0
        if self.duplex:
            per_copy = (per_copy + 1) // 2
        return per_copy * self.copies


def job_cost(model: CostModel, usage: JobUsage, groups: frozenset[str] = frozenset()) -> int:
    """The cost of ``usage`` under ``model`` for a user in ``groups``, in minor units.

    ``base_cost + copies * (colour pages * colour price + grey pages * grey price)``, then the
    user's best group modifier, rounded half up once at the end. A job whose pages are unknown
    costs its base cost until the printer reports what it printed.
    """
    prices = model.prices_for(usage.paper_size)
    per_copy = usage.colour_pages * prices.page(
        colour=True, duplex=usage.duplex
    ) + usage.grey_pages * prices.page(colour=False, duplex=usage.duplex)
    raw = model.base_cost + per_copy * usage.copies
    return apply_basis_points(raw, model.modifier_for(groups))


def affordable_pages(cost_of: Callable[[int], int], available: int) -> int:
    """How many pages ``available`` pays for, when ``cost_of(n)`` is the cost of ``n`` pages
    (a base cost and a price per page): at least 0. ``cost_of(1) <= cost_of(2)``."""
    price = cost_of(2) - cost_of(1)
    if price <= 0:
        raise ValueError("pages with no price: any number is affordable")
    return max(0, (available - (cost_of(1) - price)) // price)
