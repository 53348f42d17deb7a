"""Per-request credentials check: what revocation-at-once costs each API request.

    python bench/bench_auth.py [--postgres postgresql://user@host/db] [--n 5000]

Times, in one process, ``Credentials.by_access_key`` (the path every request takes: a cached
principal plus a re-read of the account's current secret and revoked mark), a full Core read
of the account (the path after a rotation or on a cold cache) and a plain dict look-up (a
cache that never re-reads, the cost floor), on SQLite and optionally PostgreSQL.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from openkling.config import Settings
from openkling.runtime import open_store
from openkling.tasks.accounts import _ACCOUNTS, Credentials, create_account


def best_us(fn, n: int) -> float:
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6


def measure(label: str, settings: Settings, n: int) -> list[tuple[str, float]]:
    sessions = open_store(settings)
    with sessions.begin() as s:
        key = create_account(s, name="bench", credits_amount=1).access_key
    creds = Credentials(sessions)
    principal = creds.by_access_key(key)
    floor = {key: principal}
    match = _ACCOUNTS.c.access_key == key

    rows = [
        (f"{label}: dict look-up (no re-read; floor)", best_us(lambda: floor[key], n)),
        (
            f"{label}: per-request check (cached + re-read)",
            best_us(lambda: creds.by_access_key(key), n),
        ),
        (f"{label}: full Core read of the account", best_us(lambda: creds._load(match), n)),
    ]
    sessions.engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL to measure too")
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    rows = measure(
        "SQLite", Settings(data_dir=Path(tempfile.mkdtemp(prefix="bench-auth-"))), args.n
    )
    if args.postgres:
        settings = Settings(data_dir=Path(tempfile.mkdtemp()), database_url=args.postgres)
        rows += measure("PostgreSQL", settings, args.n)
    print(f"\n| {'credentials path':52} | {'us per request':>14} |")
    print(f"|{'-' * 54}|{'-' * 16}|")
    for name, us in rows:
        print(f"| {name:52} | {us:14.1f} |")


if __name__ == "__main__":
    main()
