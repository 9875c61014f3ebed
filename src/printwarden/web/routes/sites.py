"""Sites: every site's mode, contact, outages, backlog and last reconciliation; force offline;
and Sites > Offline Policies (the four policies and the account-change config key)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from printwarden.domain.offline_policies import (
    CHANGE_SETTINGS_KEY,
    SETTING_KEY,
    CreditPolicy,
    OfflinePolicies,
    PasswordPolicy,
    UnauthenticatedPolicy,
)
from printwarden.service import views
from printwarden.store import settings, sites
from printwarden.store.errors import NotFound
from printwarden.store.models import SettingRow, SiteRow
from printwarden.web import forms
from printwarden.web.guards import PageContext, WebError, admin_form, admin_page
from printwarden.web.messages import done

router = APIRouter()
POLICIES_PATH = "/web/admin/sites/offline-policies"


@router.get("/web/admin/sites")
async def sites_page(ctx: PageContext = Depends(admin_page)) -> Response:
    return await run_in_threadpool(_sites_page, ctx)


def _sites_page(ctx: PageContext) -> Response:
    with ctx.app.database.read() as session:
        found = [views.site_out(row) for row in sites.list_sites(session)]
    return ctx.render("admin/sites.html", sites=found)


@router.post("/web/admin/sites/{name}/forced-offline")
async def force_offline(
    name: str, posted: tuple[PageContext, FormData] = Depends(admin_form)
) -> Response:
    ctx, form = posted
    offline = forms.text(form, "offline", 8) == "true"
    await run_in_threadpool(_force, ctx, name, offline)
    return RedirectResponse(done("/web/admin/sites", "site-forced"), status_code=303)


def _force(ctx: PageContext, name: str, offline: bool) -> None:
    with ctx.app.database.session() as session:
        try:
            sites.force_offline(session, sites.find_site(session, name), offline)
        except NotFound as exc:
            raise WebError(404, "Not found", str(exc)) from None


# --- Offline Policies ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Replication:
    """Whether a site has the policies: its replica reached the setting's change number."""

    site: str
    reachable: bool
    replica_seq: int
    has_it: bool


@router.get(POLICIES_PATH)
async def policies_page(ctx: PageContext = Depends(admin_page)) -> Response:
    return await run_in_threadpool(_policies_page, ctx)


def _policies_page(ctx: PageContext, error: str = "", status: int = 200) -> Response:
    with ctx.app.database.read() as session:
        row = session.get(SettingRow, SETTING_KEY)
        chosen = OfflinePolicies.from_json(dict(row.value) if row else {})
        seq = row.change_seq if row is not None else 0
        states = [_replication(row, seq) for row in sites.list_sites(session)]
    return ctx.render(
        "admin/offline_policies.html",
        status,
        policies=chosen,
        seq=seq,
        replication=states,
        error=error,
        credit_options=_CREDIT,
        unauthenticated_options=_UNAUTHENTICATED,
        password_options=_PASSWORD,
        config_key=CHANGE_SETTINGS_KEY,
    )


def _replication(row: SiteRow, seq: int) -> Replication:
    """From the site's last heartbeat: how far its replica had applied HQ's changes."""
    replica_seq = int((row.status or {}).get("replica_seq", 0))
    reachable = views.site_out(row).reachable
    return Replication(row.name, reachable, replica_seq, seq > 0 and replica_seq >= seq)


@router.post(POLICIES_PATH)
async def save_policies(posted: tuple[PageContext, FormData] = Depends(admin_form)) -> Response:
    ctx, form = posted
    try:
        chosen = _policies_from(ctx, form)
    except (ValueError, WebError) as exc:
        detail = exc.detail if isinstance(exc, WebError) else str(exc)
        return await run_in_threadpool(_policies_page, ctx, detail, 422)
    await run_in_threadpool(_save_policies, ctx, chosen)
    return RedirectResponse(done(POLICIES_PATH, "policies-saved"), status_code=303)


def _policies_from(ctx: PageContext, form: FormData) -> OfflinePolicies:
    return OfflinePolicies(
        credit=CreditPolicy(forms.text(form, "credit", 32)),
        overdraw=forms.money(form, "overdraw", ctx.currency) if form.get("overdraw") else 0,
        offline_account=forms.text(form, "offline_account", 128) or "Offline account",
        allow_account_change=forms.text(form, "change_settings", 1) == "Y",
        unauthenticated=UnauthenticatedPolicy(forms.text(form, "unauthenticated", 32)),
        unauthenticated_user=forms.text(form, "unauthenticated_user", 128) or "unknown",
        password=PasswordPolicy(forms.text(form, "password", 32)),
        password_cache_days=forms.number(form, "password_cache_days", 1, 365),
    )


def _save_policies(ctx: PageContext, chosen: OfflinePolicies) -> None:
    with ctx.app.database.session() as session:
        settings.put(session, SETTING_KEY, chosen.to_json())


# The reference's wording, in its order; [default] first.
_CREDIT = (
    (CreditPolicy.LAST_KNOWN_BALANCE, "Use last known balance",
     "Only deny jobs when the user's balance (as known by the Site Server) is used up."),
    (CreditPolicy.ALLOW_OVERDRAW, "Use the last known balance and allow overdraw by",
     "Only deny jobs when the user's balance known by the Site Server, plus the offline "
     "overdraft amount below, is used up."),
    (CreditPolicy.ALLOW_ALL, "Allow job to proceed, regardless of balance",
     "Treat the account as unrestricted. The account might go into negative when the "
     "Application Server is available again."),
    (CreditPolicy.DENY_RESTRICTED, "Assume no credit. Deny any job charging to restricted accounts",
     "Only unrestricted accounts can be used while offline."),
)  # fmt: skip
_UNAUTHENTICATED = (
    (UnauthenticatedPolicy.ASSIGN, "Assign print job to this user",
     "The default user is \"unknown\"; configure it as unrestricted so its jobs are not denied."),
    (UnauthenticatedPolicy.UNTRACKED, "Do not track, but allow job to print",
     "Jobs pass through physical queues to the printers; jobs to virtual queues do not print."),
    (UnauthenticatedPolicy.CANCEL, "Cancel the print job",
     "Jobs from unauthenticated users are canceled immediately."),
)  # fmt: skip
_PASSWORD = (
    (PasswordPolicy.DIRECTORY_THEN_CACHE, "Check the directory, then cached passwords",
     "An LDAP bind from the site when the directory answers; otherwise the cache below."),
    (PasswordPolicy.CACHE, "Use cached passwords",
     "A salted hash of the password taken at the user's last online login at this site, "
     "valid for the number of days below (never the plain password)."),
    (PasswordPolicy.DENY, "Deny password logins",
     "No password logins while offline; cards, and card or ID number with PIN, still work."),
)  # fmt: skip
