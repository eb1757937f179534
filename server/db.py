"""Database engine and sessions: SQLite by default, PostgreSQL at scale.

Endpoints never touch a session on the event loop: :meth:`Database.run` runs
a blocking function with its own session in the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from server.errors import N_, InsufficientStorage, ServiceUnavailable

T = TypeVar("T")

WRITE_OPTION = "museum_write"
SQLITE_POOL_OVERFLOW = 64
MAX_SLOTS = 32  # of anyio's 40 threads: the rest stay free for file reads


def normalize_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs, as people write them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def create_database_engine(url: str, busy_timeout: float = 5.0) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, future=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": busy_timeout, "check_same_thread": False},
        # A connection for every thread that may want one (anyio's pool has 40): waiting in
        # the pool and then again for busy_timeout would answer "busy" late, and a pool
        # timeout would be a 500. SQLite connections are cheap file handles.
        max_overflow=SQLITE_POOL_OVERFLOW,
        future=True,
    )
    event.listen(engine, "connect", partial(_configure_sqlite, busy_ms=int(busy_timeout * 1000)))
    event.listen(engine, "begin", _begin)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any, busy_ms: int) -> None:
    # Let SQLAlchemy own transactions (pysqlite's implicit BEGIN is broken for
    # writes), then set the pragmas the data-safety promises rely on.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: a committed catalog change survives power loss, not only a crash.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _begin(connection: Any) -> None:
    # Writers take the lock up front (BEGIN IMMEDIATE): a read that later
    # upgrades to a write would fail with "database is locked" without waiting
    # for busy_timeout. Readers stay deferred so they never queue behind writers.
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class PerLoopLimiter:
    """A ``CapacityLimiter`` of ``tokens`` for each event loop (tests run one app under several)."""

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self._limiter: RunVar[anyio.CapacityLimiter] = RunVar(f"museum-limiter-{id(self)}")

    def get(self) -> anyio.CapacityLimiter:
        try:
            return self._limiter.get()
        except LookupError:
            limiter = anyio.CapacityLimiter(self.tokens)
            self._limiter.set(limiter)
            return limiter


class Database:
    """An engine plus a session factory."""

    def __init__(self, url: str, busy_timeout: float = 5.0) -> None:
        self.url = normalize_url(url)
        self.engine = create_database_engine(self.url, busy_timeout)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, future=True)
        writer = self.engine.execution_options(**{WRITE_OPTION: True})
        self.write_sessions = sessionmaker(writer, expire_on_commit=False, future=True)
        # Under overload a request waits for one of these slots (no more than the pool lends
        # connections) on the event loop, at most busy_timeout, then gets 503 — rather than
        # queueing without end for a thread, or 30 s for a connection and the pool's
        # TimeoutError (a 500).
        self.slot_wait = busy_timeout
        self.slot_count = MAX_SLOTS
        pool = self.engine.pool
        if isinstance(pool, QueuePool) and pool._max_overflow >= 0:
            self.slot_count = min(MAX_SLOTS, pool.size() + pool._max_overflow)
        self._slots = PerLoopLimiter(self.slot_count)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """A session that commits on success and rolls back on error.

        Pass ``write=True`` for a transaction that will write.
        """
        factory = self.write_sessions if write else self.sessions
        with factory() as session, session.begin():
            yield session

    def call(self, fn: Callable[[Session], T], write: bool = False) -> T:
        try:
            with self.session(write) as session:
                return fn(session)
        except OperationalError as exc:
            if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                raise ServiceUnavailable(N_("The catalog is busy; please try again.")) from exc
            if "disk is full" in str(exc.orig):  # SQLITE_FULL: the transaction rolled back
                raise InsufficientStorage(
                    N_("The museum's disk is full; nothing was changed. Tell an administrator.")
                ) from exc
            raise

    async def run(self, fn: Callable[[Session], T], write: bool = False) -> T:
        """Run ``fn(session)`` in the thread pool, inside one transaction.

        503 (:class:`ServiceUnavailable`) when no connection slot frees within busy_timeout.
        """
        slots = self._slots.get()
        try:
            with anyio.fail_after(self.slot_wait):
                await slots.acquire()
        except TimeoutError:
            raise ServiceUnavailable(
                N_("The museum is very busy; please try again in a moment.")
            ) from None
        try:
            return await anyio.to_thread.run_sync(self.call, fn, write)
        finally:
            slots.release()

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
