"""Engines and sessions for SQLite (default) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from printwarden.files import private_sqlite
from printwarden.store import notices, user_events
from printwarden.store.change_bell import ChangeBell, ChangeWatch, PgListener, take_changed

log = logging.getLogger(__name__)
# The other processes listening for notices on this database (store/notices.py).
_OTHER_LISTENERS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND application_name LIKE :all AND application_name <> :mine"
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Worker threads of the App Server (service/app.py), and connections each pool keeps open:
# one per worker, so no request waits for a connection and none is opened and closed per
# request; the overflow covers sessions that outlive their worker-thread call.
WORKER_THREADS = 16
POOL_SIZE = WORKER_THREADS
POOL_OVERFLOW = WORKER_THREADS
READ_ONLY = "printwarden_read_only"
IDLE_PING_SECONDS = 10.0
WATCH_SECONDS = 1.0  # commits no bell hears (a command-line tool's) wake long polls this soon


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC time: SQLite hands timestamps back without their zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def normalize_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def libpq_conninfo(url: URL) -> str:
    """``url`` as libpq takes it. SQLAlchemy writes several hosts (a primary and its standby,
    with ``target_session_attrs``) as repeated ``host=name:port`` query parameters, of which
    libpq would keep only the last: here they become its comma-separated lists."""
    from psycopg.conninfo import make_conninfo

    params: dict[str, Any] = {k: v for k, v in url.query.items() if k != "host"}
    hosts = url.query.get("host")
    if hosts is not None:
        listed = [hosts] if isinstance(hosts, str) else list(hosts)
        pairs = [h.rpartition(":") if ":" in h else ("", "", h) for h in listed]
        params["host"] = ",".join(host or port for host, _, port in pairs)
        params["port"] = ",".join(port if host else "" for host, _, port in pairs)
    else:
        params.update(host=url.host, port=url.port)
    params.update(user=url.username, password=url.password, dbname=url.database)
    return make_conninfo(**{k: v for k, v in params.items() if v not in (None, "")})


def make_engine(url: str, *, durable: bool = False, **kwargs: Any) -> Engine:
    """An engine with the pragmas each backend needs (SQLite: WAL, busy timeout, FKs).

    ``durable`` (SQLite): every commit is fsync'd (``synchronous=FULL``), as a site's offline
    journal needs — an answered request must survive a power cut, not only a crash.
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, durable, **kwargs)
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, **kwargs)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only if it sat idle for a while.

    ``pool_pre_ping`` pings on every checkout: a second round trip per request. A connection
    that was in use moments ago is alive; one idle for ``IDLE_PING_SECONDS`` may have been cut
    (database restart, firewall), so it is pinged and, if dead, replaced transparently.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            # The ping opened a transaction: end it, or a session in autocommit (the read
            # sessions) fails with "can't change 'autocommit' now".
            dbapi_connection.rollback()
        except Exception as exc:
            raise DisconnectionError("pooled connection is dead") from exc


def _sqlite_engine(url: str, durable: bool, **kwargs: Any) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        private_sqlite(Path(database))  # 0600, and so its -wal and -shm
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False},
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # Writers take the lock up front: no lock upgrades, so no SQLITE_BUSY deadlocks.
        readonly = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


class Database:
    """An engine plus a session factory."""

    def __init__(self, url: str, *, durable: bool = False) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, durable=durable)
        # Who hears of the user events a committed transaction noted (store/user_events.py).
        self.on_events: Callable[[list[user_events.UserEvent]], None] | None = None
        # Rung when a transaction that made changes commits: long polls wait on it. On
        # PostgreSQL, commits of other processes ring it too (once someone listens).
        self.changes = ChangeBell()
        # What other processes say (forget a token, a session ended…): store/notices.py.
        self.notices = notices.Notices()
        self.sessions = sessionmaker(
            self.engine, expire_on_commit=False, info={notices.ORIGIN: self.notices.origin}
        )
        self.listener: PgListener | None = None
        self.watch: ChangeWatch | None = None
        self.listener_lock = threading.Lock()
        event.listen(self.sessions, "before_commit", self._committing)
        event.listen(self.sessions, "after_commit", self._committed)
        event.listen(self.sessions, "after_rollback", self._rolled_back)
        read_options: dict[str, Any] = {READ_ONLY: True}
        if not self.is_sqlite:
            # One statement sees one snapshot anyway; without BEGIN/ROLLBACK around it a read
            # is one round trip to PostgreSQL instead of three.
            read_options["isolation_level"] = "AUTOCOMMIT"
        readers = self.engine.execution_options(**read_options)
        self.readers = sessionmaker(readers, expire_on_commit=False)
        snapshot_options: dict[str, Any] = {READ_ONLY: True}
        if not self.is_sqlite:
            snapshot_options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        self.snapshots = sessionmaker(
            self.engine.execution_options(**snapshot_options), expire_on_commit=False
        )

    def _committing(self, session: Session) -> None:
        """Send the transaction's user events to the other processes (delivered, like the
        transaction, only if it commits)."""
        events = user_events.noted(session)
        if events and not self.is_sqlite:
            for payload in user_events.encode(events):
                notices.tell_others(session, user_events.KIND, payload)

    def _committed(self, session: Session) -> None:
        events = user_events.taken(session)
        if events and self.on_events is not None:
            self.on_events(events)
        published = notices.taken(session)
        for kind, payload in published:
            self.notices.hear(kind, payload)
        if take_changed(session):
            self.changes.ring()
        if published:
            self.fence()

    def fence(self, timeout: float = notices.FENCE_SECONDS) -> int:
        """Wait until every other process listening on this database has heard what was
        committed before now (at most ``timeout`` seconds); how many did. Only on PostgreSQL
        while this process listens (it hears their answers): 0 otherwise."""
        listener = self.listener
        if listener is None or not listener.listening.is_set():
            return 0
        fence = self.notices.fences.open()
        origin = self.notices.origin
        with self.engine.connect() as connection:
            others = int(
                connection.scalar(
                    _OTHER_LISTENERS,
                    {"all": notices.listener_name("%"), "mine": notices.listener_name(origin)},
                )
                or 0
            )
            connection.execute(
                notices.NOTIFY, {"payload": notices.message(origin, notices.FENCE, fence)}
            )
            connection.commit()
        passed = self.notices.fences.wait(fence, others, timeout)
        if passed < others:
            log.warning("%d of %d other processes did not answer a fence within %.1f s",
                        others - passed, others, timeout)  # fmt: skip
        return passed

    def _rolled_back(self, session: Session) -> None:
        user_events.taken(session)
        notices.taken(session)
        take_changed(session)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads only: on SQLite it does not take the write lock; on PostgreSQL
        each statement runs on its own (autocommit), so a read is one round trip."""
        with self.readers() as session:
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A session for reads that must agree with each other: every statement sees the
        database as it was at the first (a read transaction on SQLite; REPEATABLE READ, read
        only, on PostgreSQL, where :meth:`read` gives each statement its own snapshot)."""
        with self.snapshots.begin() as session:
            yield session

    @property
    def conninfo(self) -> str | None:
        """A libpq connection string for this database (None on SQLite)."""
        if self.is_sqlite:
            return None
        return libpq_conninfo(self.engine.url)

    def listen_for_changes(self) -> None:
        """Ring :attr:`changes` for other writers' commits too: those of other processes on
        PostgreSQL as their ``NOTIFY`` arrives, and hear their :attr:`notices` (a thread with
        one connection; until it listens this process's caches are not trusted); anyone's,
        on both backends, within ``WATCH_SECONDS`` (a thread reading the change counter).
        Started once."""
        with self.listener_lock:
            if self.watch is None:  # and commits of other writers, on both backends
                self.watch = ChangeWatch(self._last_change, self.changes, WATCH_SECONDS)
                self.watch.start()
        url = self.conninfo
        if url is None:
            return
        with self.listener_lock:
            if self.listener is None:
                self.notices.deaf()
                self.listener = PgListener(url, self.changes, self.notices)
                self.listener.start()

    def _last_change(self) -> int:
        with self.read() as session:
            return int(session.scalar(text("SELECT value FROM change_counter WHERE id = 1")) or 0)

    def dispose(self) -> None:
        with self.listener_lock:
            listener, self.listener = self.listener, None
            watch, self.watch = self.watch, None
        if listener is not None:
            listener.stop()
        if watch is not None:
            watch.stop()
        self.engine.dispose()


def relaxed_commit(session: Session) -> None:
    """Let this transaction commit without waiting for its disk flush (PostgreSQL's
    ``synchronous_commit = off``; SQLite here already commits without one). Only for data
    whose loss in a database crash is harmless: it stays consistent, just possibly absent."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
