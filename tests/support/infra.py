"""The databases and broker of the scaled layout, one private piece per test: a fresh
PostgreSQL database, a Redis key prefix, an S3 bucket on a local S3 endpoint (moto).

A test that needs one of them fails when it is missing: PostgreSQL and Redis are part of the
suite (README "Run the tests"), so a missing one is a broken setup, not a reason to skip."""

from __future__ import annotations

import logging
import uuid

import pytest

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def pg_admin():
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)


def _fresh_database():
    """A new, empty PostgreSQL database; dropped when the generator is closed."""
    import psycopg

    name = f"openkling_test_{uuid.uuid4().hex[:12]}"
    try:
        with pg_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432 (README: Run the tests): {exc}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    yield from _fresh_database()


@pytest.fixture(scope="module")
def pg_module_url():
    """One fresh PostgreSQL database for a module whose tests keep apart by account (each
    app it starts makes its own), migrated once; dropped after the module."""
    yield from _fresh_database()


@pytest.fixture
def broker_url():
    """The Redis broker with a key prefix of our own, so parallel runs never share a queue."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    prefix = f"oktest-{uuid.uuid4().hex[:12]}:"
    # one attempt: a refused connection is an answer (the client's default retries with backoff)
    client = redis.Redis(
        REDIS_HOST, REDIS_PORT, socket_connect_timeout=3, retry=Retry(NoBackoff(), 0)
    )
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(
            f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT} (README: Run the tests): {exc}"
        )
    yield f"redis://{REDIS_HOST}:{REDIS_PORT}/0?global_keyprefix={prefix}"
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def s3_endpoint():
    """An S3 endpoint: moto in server mode on a free loopback port."""
    from moto.server import ThreadedMotoServer

    from .server import free_port

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_settings(s3_endpoint) -> dict[str, str]:
    """OPENKLING_* variables for S3 storage in a bucket of this test's own."""
    return {
        "OPENKLING_STORAGE": "s3",
        "OPENKLING_S3_ENDPOINT_URL": s3_endpoint,
        "OPENKLING_S3_BUCKET": f"okt-{uuid.uuid4().hex[:12]}",
        "OPENKLING_S3_REGION": "us-east-1",
        "OPENKLING_S3_ACCESS_KEY_ID": "testing",
        "OPENKLING_S3_SECRET_ACCESS_KEY": "testing",
    }
