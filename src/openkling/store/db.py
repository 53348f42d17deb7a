"""Database engine, sessions and schema migration (Alembic, run at start or by `db upgrade`)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Result, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


def now_ms() -> int:
    return int(time.time() * 1000)


def affected(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched (``Session.execute`` types its result as a plain
    ``Result``; for these statements it is a ``CursorResult``)."""
    return cast(CursorResult[Any], result).rowcount


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
        # on the event loop: PostgreSQL only (SQLite, a local file, is read on the loop as is)
        self.loop_reads = LoopConnections(engine) if engine.dialect.name != "sqlite" else None

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
                    driver = conn.driver_connection
                    if self.engine.dialect.name != "sqlite" and driver is not None:
                        driver.autocommit = True  # no transaction left open
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


class LoopConnections:
    """PostgreSQL: a few psycopg async connections for the hot path's single-statement reads,
    awaited on the event loop, so a read holds no thread and needs no hand-over to one (the
    loop goes on serving while the database answers). In autocommit; the driver prepares a
    statement it has seen a few times. A connection that fails is dropped and the statement
    tried once more on a new one. Connections belong to the loop that opened them."""

    def __init__(self, engine: Engine, size: int = 8) -> None:
        import psycopg  # the PostgreSQL driver: imported only where it is used

        self._psycopg = psycopg
        url = engine.url.set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list = []
        self._count = 0
        self._waiters: collections.deque = collections.deque()

    async def fetchone(self, sql: str, params: tuple) -> tuple | None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # another loop (a new server in this process): start over
            self._loop, self._idle, self._count = loop, [], 0
            self._waiters.clear()
        for retry in (False, True):
            conn = await self._acquire(loop)
            try:
                cursor = await conn.execute(sql, params)
                row = await cursor.fetchone()
            except BaseException as exc:  # failed, or cancelled midway: never reuse it
                self._count -= 1
                self._wake()
                with contextlib.suppress(Exception):
                    await conn.close()
                if retry or not isinstance(exc, self._psycopg.OperationalError):
                    raise
                continue
            self._idle.append(conn)
            self._wake()
            return row
        return None

    async def _acquire(self, loop):
        while True:
            if self._idle:
                return self._idle.pop()
            if self._count < self._size:
                self._count += 1
                connect = self._psycopg.AsyncConnection.connect
                try:
                    return await connect(self._conninfo, autocommit=True)
                except BaseException:
                    self._count -= 1
                    raise
            waiter = loop.create_future()
            self._waiters.append(waiter)
            await waiter

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


# The newest revision in migrations/versions (tests/test_migrations.py checks it is): a store
# already there is left alone without loading alembic's scripts, which every start and every
# command line would otherwise read and run again.
HEAD_REVISION = "0008"


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent, safe beside other processes)."""
    from alembic import command

    if current_revision(engine) == HEAD_REVISION:
        return
    command.upgrade(alembic_config(engine), "head")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
