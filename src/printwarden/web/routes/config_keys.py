"""The config editor: config keys and their values. Settings are JSON objects replicated to
sites; ``system.site.offline-change-print-job-settings.enabled`` (Y/N) is kept inside the
Offline Policies, as the reference ties it to them."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from printwarden.domain.offline_policies import CHANGE_SETTINGS_KEY, SETTING_KEY, OfflinePolicies
from printwarden.domain.scanning import SETTING_KEY as SCAN_ACTIONS_KEY
from printwarden.domain.scanning import parse_settings as parse_scan_settings
from printwarden.domain.scanning import settings_json as scan_settings_json
from printwarden.domain.web_print import SETTING_KEY as WEB_PRINT_KEY
from printwarden.domain.web_print import WebPrintPolicy
from printwarden.store import settings
from printwarden.store.models import SettingRow
from printwarden.web import forms
from printwarden.web.guards import PageContext, admin_form, admin_page
from printwarden.web.messages import done

router = APIRouter()
PATH = "/web/admin/config"
MAX_VALUE = 64 * 1024


@router.get(PATH)
async def config_page(ctx: PageContext = Depends(admin_page)) -> Response:
    return await run_in_threadpool(_config_page, ctx)


def _config_page(ctx: PageContext, error: str = "", status: int = 200) -> Response:
    with ctx.app.database.read() as session:
        rows = session.scalars(select(SettingRow).order_by(SettingRow.key)).all()
        keys = [(r.key, json.dumps(r.value, indent=2, sort_keys=True)) for r in rows]
        policies = OfflinePolicies.from_json(settings.get(session, SETTING_KEY) or {})
    flag = "Y" if policies.allow_account_change else "N"
    return ctx.render("admin/config.html", status, keys=keys, flag_key=CHANGE_SETTINGS_KEY,
                      flag=flag, error=error)  # fmt: skip


@router.post(PATH)
async def save_key(posted: tuple[PageContext, FormData] = Depends(admin_form)) -> Response:
    ctx, form = posted
    key = forms.text(form, "key", 128)
    raw = forms.text(form, "value", MAX_VALUE)
    try:
        await run_in_threadpool(_save, ctx, key, raw)
    except ValueError as exc:
        return await run_in_threadpool(_config_page, ctx, str(exc), 422)
    return RedirectResponse(done(PATH, "config-saved"), status_code=303)


def _save(ctx: PageContext, key: str, raw: str) -> None:
    with ctx.app.database.session() as session:
        if key == CHANGE_SETTINGS_KEY:
            if raw not in ("Y", "N"):
                raise ValueError(f"{CHANGE_SETTINGS_KEY} is Y or N")
            current = settings.get(session, SETTING_KEY) or {}
            updated = OfflinePolicies.from_json({**current, "allow_account_change": raw == "Y"})
            settings.put(session, SETTING_KEY, updated.to_json())
            return
        if not key:
            raise ValueError("a config key is required")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the value is not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise ValueError("a config value is a JSON object")
        if key == SETTING_KEY:
            value = OfflinePolicies.from_json(value).to_json()  # checked like the policy form
        if key == WEB_PRINT_KEY:
            try:
                value = WebPrintPolicy.from_json(value).to_json()
            except TypeError as exc:
                raise ValueError(f"{WEB_PRINT_KEY}: {exc}") from None
        if key == SCAN_ACTIONS_KEY:  # ScanError is a ValueError: shown as the form's error
            value = scan_settings_json(parse_scan_settings(value))
        settings.put(session, key, value)
