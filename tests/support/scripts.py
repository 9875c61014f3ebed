"""A sample job, user and moment for print-script tests."""

from __future__ import annotations

from datetime import UTC, datetime

from printwarden.scripting import ScriptJob, ScriptUser

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
JOB = ScriptJob(
    pages=6,
    colour_pages=2,
    copies=2,
    cost=500,
    document_name="Report.pdf",
    size=2_048,
    duplex=False,
    grayscale=False,
    paper_size="A4",
    printer="library",
    is_held=False,
    username="ann",
    account="ann-personal",
)
USER = ScriptUser(username="ann", groups=("students", "maths"), balance=1_234, restricted=True)
