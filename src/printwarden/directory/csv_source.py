"""Users from a CSV file: a header row, then one user a row.

Columns (only ``username`` is required): ``username``, ``full_name``, ``email``, ``groups``
and ``cards`` (several values separated by ``;``), ``identity_number``, ``pin``,
``restricted`` (true/false), ``credit_limit`` (an amount such as ``5.00``).
"""

from __future__ import annotations

import csv
import io

from printwarden.domain.directory import CsvUser
from printwarden.domain.money import Currency, MoneyError

COLUMNS = frozenset(
    {
        "username",
        "full_name",
        "email",
        "groups",
        "cards",
        "identity_number",
        "pin",
        "restricted",
        "credit_limit",
    }
)
MAX_ROWS = 200_000
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


class CsvImportError(ValueError):
    """The file cannot be imported; nothing of it is applied."""


def parse_users(text: str, currency: Currency) -> list[CsvUser]:
    """Parse and validate the whole file; the first bad row raises :class:`CsvImportError`."""
    try:
        return _parse(text, currency)
    except csv.Error as exc:  # e.g. a line break inside an unquoted cell
        raise CsvImportError(f"not a valid CSV file: {exc}") from None


def _parse(text: str, currency: Currency) -> list[CsvUser]:
    # newline="": the csv module reads line breaks itself (a lone CR is one, as in Excel's files)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    _check_header(header)
    reader.fieldnames = header
    users: list[CsvUser] = []
    seen: set[str] = set()
    for number, record in enumerate(reader, start=2):
        if number > MAX_ROWS + 1:
            raise CsvImportError(f"more than {MAX_ROWS} rows")
        user = _row(record, number, currency)
        if user.username in seen:
            raise CsvImportError(f"row {number}: username {user.username!r} appears twice")
        seen.add(user.username)
        users.append(user)
    return users


def _check_header(header: list[str]) -> None:
    if "username" not in header:
        raise CsvImportError("the first row must name the columns, including 'username'")
    unknown = sorted(set(header) - COLUMNS)
    if unknown:
        raise CsvImportError(f"unknown column {unknown[0]!r}; known: {', '.join(sorted(COLUMNS))}")


def _row(
    record: dict[str | None, str | list[str] | None], number: int, currency: Currency
) -> CsvUser:
    if None in record:
        raise CsvImportError(f"row {number}: more cells than columns")
    cells = {k: (v or "").strip() for k, v in record.items() if isinstance(v, str | None) and k}
    username = cells.get("username", "")
    if not username or any(c.isspace() for c in username) or "/" in username:
        raise CsvImportError(f"row {number}: a username is required, without spaces or '/'")
    try:
        return CsvUser(
            username=username,
            full_name=cells.get("full_name") or None,
            email=cells.get("email") or None,
            groups=_list(cells.get("groups")),
            cards=_list(cells.get("cards")),
            identity_number=cells.get("identity_number") or None,
            pin=_pin(cells.get("pin")),
            restricted=_bool(cells.get("restricted")),
            credit_limit=_money(cells.get("credit_limit"), currency),
        )
    except (ValueError, MoneyError) as exc:
        raise CsvImportError(f"row {number}: {exc}") from None


def _list(cell: str | None) -> tuple[str, ...] | None:
    if not cell:
        return None
    return tuple(part.strip() for part in cell.split(";") if part.strip())


def _pin(cell: str | None) -> str | None:
    if not cell:
        return None
    if not cell.isdigit():
        raise ValueError("a PIN is digits only")
    return cell


def _bool(cell: str | None) -> bool | None:
    if not cell:
        return None
    if cell.lower() in _TRUE:
        return True
    if cell.lower() in _FALSE:
        return False
    raise ValueError(f"restricted must be true or false, not {cell!r}")


def _money(cell: str | None, currency: Currency) -> int | None:
    if not cell:
        return None
    amount = currency.parse(cell)
    if amount < 0:
        raise ValueError("credit_limit cannot be negative")
    return amount
