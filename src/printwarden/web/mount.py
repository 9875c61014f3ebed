"""Adding the web interface to an App Server (or a Site Server's local) app."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from printwarden.service.state import AppState
from printwarden.web.guards import LoginRequired, WebError
from printwarden.web.routes import (
    accounts,
    config_keys,
    credit,
    dashboard,
    discovery,
    extensions,
    held,
    job_log,
    login,
    mail_confirm,
    payments_admin,
    portal,
    printers,
    questions,
    scan,
    setup,
    sites,
    static,
    users,
    web_print,
)
from printwarden.web.sessions import CookieSigner
from printwarden.web.state import WebState
from printwarden.web.templating import html

ROUTERS = (
    static.router,
    login.router,
    portal.router,
    credit.router,
    questions.router,
    scan.router,
    setup.router,
    web_print.router,
    mail_confirm.router,
    dashboard.router,
    users.router,
    accounts.router,
    printers.router,
    held.router,
    job_log.router,
    sites.router,
    discovery.router,
    config_keys.router,
    extensions.router,
    payments_admin.router,
)


def mount(app: FastAPI) -> None:
    """Serve the web interface under ``/web`` (left out of the OpenAPI document)."""
    state: AppState = app.state.printwarden
    max_age = state.settings.session_hours * 3600
    signer = CookieSigner(state.issuer, state.secret)
    app.state.webui = web = WebState(signer=signer, max_age=max_age, database=state.database)
    web.listen(state.database.notices)
    app.add_exception_handler(LoginRequired, _to_login)  # type: ignore[arg-type]
    app.add_exception_handler(WebError, _error_page)  # type: ignore[arg-type]
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
    app.include_router(questions.assets, include_in_schema=False)  # public, like /web/static


async def _to_login(_request: Request, exc: LoginRequired) -> Response:
    return RedirectResponse("/web/login?" + urlencode({"next": exc.next_path}), status_code=303)


async def _error_page(_request: Request, exc: WebError) -> Response:
    return html("error.html", exc.status, title=exc.title, detail=exc.detail)
