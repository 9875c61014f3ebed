"""Printers and devices with their cost models."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from printwarden.domain.costs import CostModel, PagePrices
from printwarden.domain.decide import Printer
from printwarden.domain.questions import ClientRules
from printwarden.store import published
from printwarden.store.changes import change_seq
from printwarden.store.errors import AlreadyExists, NotFound
from printwarden.store.models import DeviceRow, PrinterRow
from printwarden.store.users import now

R = TypeVar("R", PrinterRow, DeviceRow)


def cost_model_from_json(data: dict[str, Any]) -> CostModel:
    """The domain cost model of a stored ``cost_model`` column."""
    sizes = {name: PagePrices(**prices) for name, prices in data.get("sizes", {}).items()}
    return CostModel(
        sizes=sizes,
        base_cost=int(data.get("base_cost", 0)),
        group_modifiers={k: int(v) for k, v in data.get("group_modifiers", {}).items()},
    )


def printer_to_domain(row: PrinterRow) -> Printer:
    return Printer(
        name=row.name,
        cost_model=cost_model_from_json(row.cost_model),
        enabled=row.enabled and row.deleted_at is None,
        hold_for_release=row.hold_for_release,
        client_rules=client_rules_of(row.client_rules),
    )


def client_rules_of(data: dict[str, Any] | None) -> ClientRules:
    """A printer's stored rules for asking; rules that no longer parse ask nothing (and are
    refused when an administrator saves them)."""
    try:
        return ClientRules.from_json(data)
    except (ValueError, TypeError):
        return ClientRules()


_PRINTER_FOR_DECISION = select(
    PrinterRow.name,
    PrinterRow.cost_model,
    PrinterRow.enabled,
    PrinterRow.hold_for_release,
    PrinterRow.client_rules,
).where(PrinterRow.name == bindparam("name"), PrinterRow.deleted_at.is_(None))


def printer_for_decision(session: Session, name: str) -> Printer:
    """The domain printer, read as plain columns (the decision hot path)."""
    found = session.connection().execute(_PRINTER_FOR_DECISION, {"name": name}).first()
    if found is None:
        raise NotFound(f"no printer named {name!r}")
    printer_name, cost_model, enabled, hold, rules = found
    model = cost_model_from_json(cost_model)
    return Printer(printer_name, model, enabled, hold, client_rules_of(rules))


def find_printer(session: Session, name: str) -> PrinterRow:
    row = session.scalar(
        select(PrinterRow).where(PrinterRow.name == name, PrinterRow.deleted_at.is_(None))
    )
    if row is None:
        raise NotFound(f"no printer named {name!r}")
    return row


def _save(
    session: Session, model: type[R], name: str, fields: dict[str, Any], *, create: bool
) -> R:
    # Taken first: its UPDATE autoflushes, which must not happen to a new row without it.
    seq = change_seq(session)
    row = session.scalar(select(model).where(model.name == name))
    if create:
        if row is not None and row.deleted_at is None:
            raise AlreadyExists(f"a {model.__tablename__[:-1]} named {name!r} exists already")
        row = row or model(name=name, cost_model={})
        row.deleted_at = None
        session.add(row)
    elif row is None or row.deleted_at is not None:
        raise NotFound(f"no {model.__tablename__[:-1]} named {name!r}")
    for key, value in fields.items():
        setattr(row, key, value)
    row.change_seq = seq
    session.flush()
    kind = "printer" if model is PrinterRow else "device"
    published.record_prices(
        session, kind, name, cost_model_from_json(row.cost_model), row.cost_model
    )
    return row


def save_printer(
    session: Session, name: str, fields: dict[str, Any], *, create: bool
) -> PrinterRow:
    """Create (``create=True``) or update a printer with ``fields``."""
    return _save(session, PrinterRow, name, fields, create=create)


def list_printers(session: Session) -> list[PrinterRow]:
    return list(
        session.scalars(
            select(PrinterRow).where(PrinterRow.deleted_at.is_(None)).order_by(PrinterRow.name)
        )
    )


def delete_printer(session: Session, row: PrinterRow) -> None:
    row.deleted_at, row.enabled, row.change_seq = now(), False, change_seq(session)


def find_device(session: Session, name: str) -> DeviceRow:
    row = session.scalar(
        select(DeviceRow).where(DeviceRow.name == name, DeviceRow.deleted_at.is_(None))
    )
    if row is None:
        raise NotFound(f"no device named {name!r}")
    return row


def save_device(session: Session, name: str, fields: dict[str, Any], *, create: bool) -> DeviceRow:
    """Create or update a device; ``fields["printer"]`` names its printer."""
    values = dict(fields)
    if "printer" in values:
        printer = values.pop("printer")
        values["printer_id"] = find_printer(session, printer).id if printer else None
    return _save(session, DeviceRow, name, values, create=create)


def list_devices(session: Session) -> list[DeviceRow]:
    return list(
        session.scalars(
            select(DeviceRow).where(DeviceRow.deleted_at.is_(None)).order_by(DeviceRow.name)
        )
    )


def delete_device(session: Session, row: DeviceRow) -> None:
    row.deleted_at, row.enabled, row.change_seq = now(), False, change_seq(session)


def printer_name(session: Session, printer_id: int | None) -> str | None:
    if printer_id is None:
        return None
    row = session.get(PrinterRow, printer_id)
    return row.name if row else None
