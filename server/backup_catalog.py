"""The catalog's part of a backup, per engine: a consistent copy taken while the museum runs,
the row count of every table in that copy, and the originals it references.

SQLite is copied with the online backup API, which reads one consistent state of a live
database (a plain ``cp`` during a write can copy a torn file). PostgreSQL is dumped by
``pg_dump`` inside an exported snapshot, and the row counts and originals are read in that
same snapshot, so the three agree exactly even while people keep working.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from server.db import normalize_url
from server.errors import N_, Conflict, IntegrityFailure, NotFound, ServiceUnavailable

SQLITE_FILE = "museum.sqlite3"
POSTGRES_FILE = "museum.pgdump"
_ORIGINALS = "SELECT sha256, MAX(size) FROM assets GROUP BY sha256 ORDER BY sha256"
_TOOL_TIMEOUT = 6 * 3600  # seconds; a dump of a very large catalog still finishes


@dataclass
class CatalogSnapshot:
    engine: str  # "sqlite" or "postgresql"
    file_name: str
    schema: str | None
    row_counts: dict[str, int]
    originals: list[tuple[str, int]] = field(default_factory=list)  # (sha256, size)
    integrity: str = "ok"


def engine_of(url: str) -> str:
    return make_url(normalize_url(url)).get_backend_name()


def sqlite_path(url: str) -> Path:
    database = make_url(normalize_url(url)).database
    if not database or database == ":memory:":
        raise NotFound(N_("The catalog is not a SQLite file: {url}."), url=url)
    return Path(database)


def snapshot_catalog(url: str, target_dir: Path) -> CatalogSnapshot:
    """Copy the catalog into ``target_dir`` and describe the copy."""
    if engine_of(url) == "sqlite":
        return _snapshot_sqlite(sqlite_path(url), target_dir / SQLITE_FILE)
    return _snapshot_postgresql(url, target_dir / POSTGRES_FILE)


# SQLite


def _snapshot_sqlite(source_path: Path, target: Path) -> CatalogSnapshot:
    if not source_path.is_file():
        raise NotFound(N_("There is no catalog at {path}."), path=str(source_path))
    target.parent.mkdir(parents=True, exist_ok=True)
    source = closing(sqlite3.connect(source_path, timeout=60))
    with source as live, closing(sqlite3.connect(target)) as copy:
        # All pages in one step: one read transaction, so one consistent state; in WAL
        # mode it does not hold up writers.
        live.backup(copy)
        # A single self-contained file: no -wal/-shm beside it in the bag.
        copy.execute("PRAGMA journal_mode=DELETE")
    snapshot = describe_sqlite(target)
    if snapshot.integrity != "ok":
        raise IntegrityFailure(
            N_("The catalog's copy fails PRAGMA integrity_check: {result}."),
            result=snapshot.integrity,
        )
    target.chmod(0o400)
    return snapshot


def describe_sqlite(path: Path) -> CatalogSnapshot:
    """Row counts, schema revision, originals and ``integrity_check`` of a SQLite file."""
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
        integrity = "; ".join(row[0] for row in db.execute("PRAGMA integrity_check"))
        tables = [
            row[0]
            for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
        ]
        counts = {t: db.execute(_count(t)).fetchone()[0] for t in tables}
        schema = _first(db.execute("SELECT version_num FROM alembic_version").fetchall())
        originals = [(row[0], int(row[1])) for row in db.execute(_ORIGINALS)]
    return CatalogSnapshot("sqlite", SQLITE_FILE, schema, counts, originals, integrity)


def _count(table: str) -> str:
    # Table names come from the catalog's own schema listing, quoted as identifiers.
    quoted = table.replace('"', '""')
    return f'SELECT COUNT(*) FROM "{quoted}"'  # noqa: S608


def _first(rows: list[Any]) -> str | None:
    return str(rows[0][0]) if rows else None


# PostgreSQL


def libpq_url(url: str) -> tuple[str, dict[str, str]]:
    """The URL for pg_dump/pg_restore without its password, which goes in the environment
    (a password on a command line is visible to every user in the process list)."""
    parsed = make_url(normalize_url(url))
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


@contextmanager
def _connection(url: str, isolation: str) -> Iterator[Connection]:
    engine = create_engine(normalize_url(url), poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level=isolation) as connection:
            yield connection
    finally:
        engine.dispose()


def _snapshot_postgresql(url: str, target: Path) -> CatalogSnapshot:
    target.parent.mkdir(parents=True, exist_ok=True)
    with _connection(url, "REPEATABLE READ") as connection, connection.begin():
        snapshot_id = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        described = describe_postgresql(connection)
        dsn, env = libpq_url(url)
        command = ["pg_dump", "--format=custom", f"--snapshot={snapshot_id}", f"--file={target}"]
        _run_tool([*command, f"--dbname={dsn}"], env)
    target.chmod(0o400)
    return described


def describe_postgresql(connection: Connection) -> CatalogSnapshot:
    tables = connection.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
    ).scalars()
    counts = {str(t): int(connection.execute(text(_count(t))).scalar_one()) for t in list(tables)}
    schema = None
    if "alembic_version" in counts:
        schema = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    originals = []
    if "assets" in counts:
        originals = [(str(r[0]), int(r[1])) for r in connection.execute(text(_ORIGINALS))]
    return CatalogSnapshot("postgresql", POSTGRES_FILE, schema, counts, originals)


def postgresql_tables(url: str) -> list[str]:
    with _connection(url, "AUTOCOMMIT") as connection:
        rows = connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        )
        return sorted(str(r[0]) for r in rows)


def restore_postgresql(url: str, dump: Path) -> CatalogSnapshot:
    """``pg_restore`` into the configured database, which must hold no tables; all or nothing."""
    existing = postgresql_tables(url)
    if existing:
        raise Conflict(
            N_(
                "The PostgreSQL database already holds {count} table(s) ({names}); restore "
                "needs an empty database (create a new one and point MUSEUM_DATABASE_URL at it)."
            ),
            count=len(existing),
            names=", ".join(existing[:5]),
        )
    dsn, env = libpq_url(url)
    flags = ["--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges"]
    _run_tool(["pg_restore", *flags, f"--dbname={dsn}", str(dump)], env)
    with _connection(url, "REPEATABLE READ") as connection, connection.begin():
        return describe_postgresql(connection)


def _run_tool(command: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=_TOOL_TIMEOUT, check=False
        )
    except FileNotFoundError as exc:
        raise ServiceUnavailable(
            N_("{tool} is not installed (Debian package postgresql-client)."), tool=command[0]
        ) from exc
    if done.returncode != 0:
        raise ServiceUnavailable(
            N_("{tool} failed (exit {code}): {error}"),
            tool=command[0],
            code=done.returncode,
            error=done.stderr.strip()[-800:],
        )
