"""The printer and device registry, with cost settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from printwarden.api.devices import DeviceFields, DeviceIn, DeviceOut
from printwarden.api.printers import PrinterFields, PrinterIn, PrinterOut
from printwarden.domain.questions import ClientRules
from printwarden.service import views
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import (
    admin_only,
    read_session,
    registry_readers,
    write_session,
)
from printwarden.store import printers, sites
from printwarden.store.errors import NotFound

router = APIRouter(tags=["printers"])


# ``null`` clears these; for every other field it means "leave as it is".
NULLABLE = frozenset({"site", "printer"})


def _fields(session: Session, body: PrinterFields | DeviceFields) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True, exclude={"name"})
    fields = {key: value for key, value in given.items() if value is not None or key in NULLABLE}
    if fields.get("login_methods") is not None:
        fields["login_methods"] = sorted(set(fields["login_methods"]))
    if body.cost_model is not None:
        fields["cost_model"] = body.cost_model.model_dump()
    rules = getattr(body, "client_rules", None)
    if rules is not None:
        fields["client_rules"] = ClientRules.from_json(rules.model_dump()).to_json()
    if "site" in fields:
        fields["site"] = fields["site"] or None
        if fields["site"] is not None:
            try:
                sites.find_site(session, fields["site"])
            except NotFound as exc:
                raise Problem(422, "Invalid request", str(exc)) from None
    return fields


@router.get("/printers", dependencies=[Depends(registry_readers)])
def list_printers(session: Session = Depends(read_session)) -> list[PrinterOut]:
    return [views.printer_out(row) for row in printers.list_printers(session)]


@router.post("/printers", status_code=201, dependencies=[Depends(admin_only)])
def create_printer(body: PrinterIn, session: Session = Depends(write_session)) -> PrinterOut:
    """Register a printer with its prices."""
    fields = {"cost_model": {}, **_fields(session, body)}
    return views.printer_out(printers.save_printer(session, body.name, fields, create=True))


@router.get("/printers/{name}", dependencies=[Depends(registry_readers)])
def get_printer(name: str, session: Session = Depends(read_session)) -> PrinterOut:
    return views.printer_out(printers.find_printer(session, name))


@router.patch("/printers/{name}", dependencies=[Depends(admin_only)])
def update_printer(
    name: str, body: PrinterFields, session: Session = Depends(write_session)
) -> PrinterOut:
    fields = _fields(session, body)
    return views.printer_out(printers.save_printer(session, name, fields, create=False))


@router.delete("/printers/{name}", status_code=204, dependencies=[Depends(admin_only)])
def delete_printer(name: str, session: Session = Depends(write_session)) -> Response:
    printers.delete_printer(session, printers.find_printer(session, name))
    return Response(status_code=204)


@router.get("/devices", dependencies=[Depends(registry_readers)])
def list_devices(session: Session = Depends(read_session)) -> list[DeviceOut]:
    return [views.device_out(session, row) for row in printers.list_devices(session)]


@router.post("/devices", status_code=201, dependencies=[Depends(admin_only)])
def create_device(body: DeviceIn, session: Session = Depends(write_session)) -> DeviceOut:
    """Register a device (MFD, terminal, release station or card reader)."""
    fields = {"cost_model": {}, **_fields(session, body)}
    return views.device_out(session, printers.save_device(session, body.name, fields, create=True))


@router.get("/devices/{name}", dependencies=[Depends(registry_readers)])
def get_device(name: str, session: Session = Depends(read_session)) -> DeviceOut:
    return views.device_out(session, printers.find_device(session, name))


@router.patch("/devices/{name}", dependencies=[Depends(admin_only)])
def update_device(
    name: str, body: DeviceFields, session: Session = Depends(write_session)
) -> DeviceOut:
    row = printers.save_device(session, name, _fields(session, body), create=False)
    return views.device_out(session, row)


@router.delete("/devices/{name}", status_code=204, dependencies=[Depends(admin_only)])
def delete_device(name: str, session: Session = Depends(write_session)) -> Response:
    printers.delete_device(session, printers.find_device(session, name))
    return Response(status_code=204)
