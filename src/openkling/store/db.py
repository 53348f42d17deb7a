"""Database engine, sessions and schema migration (Alembic, run at start or by `db upgrade`)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


def now_ms() -> int:
    return int(time.time() * 1000)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=16,
            max_overflow=48,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # WAL: readers never block the writer
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Writers take the lock up front (no lock-upgrade failures midway); readers run in
            # autocommit, each statement its own snapshot, with no BEGIN/ROLLBACK round trips.
            mode = conn.get_execution_options().get("sqlite_begin")
            if mode:
                conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Sessions:
    """``sessions()`` opens a read session; ``sessions.begin()`` a write transaction
    (on SQLite it starts with ``BEGIN IMMEDIATE`` so read-then-write never fails midway)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer at a time; queueing writers on a lock here is far cheaper than
        # SQLite's sleep-and-retry busy handler. Other processes still meet busy_timeout.
        self._write_lock = threading.RLock() if engine.dialect.name == "sqlite" else None
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )
        self.raw = ThreadConnections(engine)

    def __call__(self) -> Session:
        return self._read()

    @contextmanager
    def begin(self) -> Iterator[Session]:
        if self._write_lock is None:
            with self._write.begin() as session:
                yield session
            return
        with self._write_lock, self._write.begin() as session:
            yield session


class ThreadConnections:
    """One raw DB-API connection per calling thread, kept open, in autocommit, for the hot
    path's single-statement reads: no pool check-out, no liveness ping, no ORM, and on
    PostgreSQL the driver prepares a statement it has seen a few times. A dropped connection
    is replaced and the statement tried once more. SQL is written with ``?`` placeholders."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._format = engine.dialect.paramstyle != "qmark"

    def sql(self, text: str) -> str:
        """``text`` with this driver's placeholders (call once, keep the result)."""
        return text.replace("?", "%s") if self._format else text

    def fetchone(self, sql: str, params: tuple) -> tuple | None:
        for retry in (False, True):
            conn = getattr(self._local, "conn", None)
            try:
                if conn is None:
                    conn = self.engine.raw_connection()
                    if self.engine.dialect.name != "sqlite":  # no transaction left open
                        conn.driver_connection.autocommit = True
                    self._local.conn = conn
                cursor = conn.cursor()
                try:
                    cursor.execute(sql, params)
                    return cursor.fetchone()
                finally:
                    cursor.close()
            except Exception:
                self._local.conn = None  # a dropped connection: open a new one and retry once
                if conn is not None:
                    conn.invalidate()
                if retry:
                    raise
        return None


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent, safe beside other processes)."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
