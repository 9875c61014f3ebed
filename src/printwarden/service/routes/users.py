"""Users and groups, and importing users from CSV."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from printwarden.api.common import Page
from printwarden.api.users import GroupIn, GroupOut, ImportReport, UserFields, UserIn, UserOut
from printwarden.directory.csv_source import CsvImportError, parse_users
from printwarden.domain.directory import CsvUser
from printwarden.service import views
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import admin_only, read_session, write_session
from printwarden.service.state import AppState, app_state
from printwarden.store import groups, sync, users

router = APIRouter(tags=["users"], dependencies=[Depends(admin_only)])


def _changes(body: UserFields) -> users.UserChanges:
    return users.UserChanges(**body.model_dump(exclude_unset=True, exclude={"username"}))


@router.get("/users")
def list_users(
    session: Session = Depends(read_session),
    offset: int = Query(0, ge=0),
    limit: int = Query(100, ge=1, le=1000),
    search: str = Query("", max_length=128),
) -> Page[UserOut]:
    """A page of users ordered by username."""
    found, total = users.list_users(session, offset=offset, limit=limit, search=search)
    items = [views.user_out(v) for v in found]
    return Page[UserOut](items=items, total=total, offset=offset, limit=limit)


@router.post("/users", status_code=201)
def create_user(
    body: UserIn,
    session: Session = Depends(write_session),
    state: AppState = Depends(app_state),
) -> UserOut:
    """Create a user with a personal account."""
    row = users.create_user(session, state.secret, body.username, _changes(body))
    return views.user_out(users.views(session, [row])[0])


@router.get("/users/{username}")
def get_user(username: str, session: Session = Depends(read_session)) -> UserOut:
    row = users.find_user(session, username)
    return views.user_out(users.views(session, [row])[0])


@router.patch("/users/{username}")
def update_user(
    username: str,
    body: UserFields,
    session: Session = Depends(write_session),
    state: AppState = Depends(app_state),
) -> UserOut:
    """Change a user; ``groups`` and ``cards``, when given, replace the old lists."""
    row = users.find_user(session, username)
    users.update_user(session, state.secret, row, _changes(body))
    return views.user_out(users.views(session, [row])[0])


@router.delete("/users/{username}", status_code=204)
def delete_user(username: str, session: Session = Depends(write_session)) -> Response:
    """Delete a user. Their ledger stays; their sessions end."""
    row = users.find_user(session, username)
    users.delete_user(session, row)
    return Response(status_code=204)


@router.post(
    "/users/import",
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def import_users(request: Request, state: AppState = Depends(app_state)) -> ImportReport:
    """Create or update users from a CSV file; a bad row rejects the whole file."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "text/csv":
        raise Problem(415, "Unsupported Media Type", "send the file as text/csv")
    raw = await request.body()  # at most ``limits.user_import_bytes`` (service/body_limits.py)
    try:
        rows = parse_users(raw.decode("utf-8"), state.currency)
    except UnicodeDecodeError:
        raise Problem(400, "Bad Request", "the file is not UTF-8") from None
    except CsvImportError as exc:
        raise Problem(400, "Bad Request", str(exc)) from None
    report = await run_in_threadpool(_import, state, rows)
    return ImportReport(created=report.created, updated=report.updated)


def _import(state: AppState, rows: list[CsvUser]) -> sync.SyncReport:
    with state.database.session() as session:
        return sync.import_csv(session, state.secret, rows)


@router.get("/groups")
def list_groups(session: Session = Depends(read_session)) -> list[GroupOut]:
    return [
        GroupOut(name=g.name, members=members, source=g.source)
        for g, members in groups.list_groups(session)
    ]


@router.post("/groups", status_code=201)
def create_group(body: GroupIn, session: Session = Depends(write_session)) -> GroupOut:
    row = groups.create_group(session, body.name)
    return GroupOut(name=row.name, members=0, source=row.source)


@router.delete("/groups/{name}", status_code=204)
def delete_group(name: str, session: Session = Depends(write_session)) -> Response:
    groups.delete_group(session, groups.find_group(session, name))
    return Response(status_code=204)
