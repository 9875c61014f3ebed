"""The replica stores a feed's times (ISO text) as SQLAlchemy's SQLite text form would,
whichever way it gets there (``site/replica.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from printwarden.site.replica import _from_text

_DIALECT = sqlite.dialect()
_FOUND = DateTime().dialect_impl(_DIALECT).bind_processor(_DIALECT)
assert _FOUND is not None
_PROCESS = _FOUND
STORED = _from_text(_PROCESS)
TIMES = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1))
OFFSETS = st.sampled_from([None, UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5))])


@given(TIMES, OFFSETS, st.booleans())
def test_a_time_is_stored_as_sqlalchemy_stores_it(
    naive: datetime, offset: timezone | None, whole_seconds: bool
) -> None:
    when = naive.replace(tzinfo=offset, microsecond=0 if whole_seconds else naive.microsecond)
    assert STORED(when.isoformat()) == _PROCESS(when)
    assert STORED(when) == _PROCESS(when)


@pytest.mark.parametrize("text", ["2026-13-01T00:00:00", "2026-11-25T25:00:00+00:00", "soon"])
def test_a_text_that_is_no_time_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"isoformat|must be in"):
        STORED(text)
