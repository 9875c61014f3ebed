"""Syncing users from the configured directory on demand."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from printwarden.api.users import SyncReportOut
from printwarden.directory.errors import DirectoryUnavailable
from printwarden.directory.source import NoDirectoryConfigured, read_snapshot
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import admin_only
from printwarden.service.state import AppState, app_state
from printwarden.store import sync

router = APIRouter(tags=["directory"], dependencies=[Depends(admin_only)])


@router.post("/directory/sync")
def sync_now(
    state: AppState = Depends(app_state),
    disable_missing: bool = Query(False, description="Disable users the source no longer has"),
) -> SyncReportOut:
    """Read the directory now and bring users, groups and cards up to date."""
    try:
        snapshot = read_snapshot(state.settings.directory)
    except NoDirectoryConfigured as exc:
        raise Problem(409, "No directory", str(exc)) from None
    except DirectoryUnavailable as exc:
        raise Problem(503, "Directory unavailable", str(exc)) from None
    with state.database.session() as session:
        report = sync.sync_directory(
            session, state.secret, snapshot, disable_missing=disable_missing
        )
    return SyncReportOut(
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        disabled=report.disabled,
    )
