"""The `openkling` command line: serve, worker, db, keys, credits, sweep, generate, tasks."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from ..observability.logs import configure_logging
from .options import load_settings

log = logging.getLogger("openkling.cli.main")


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Data directory (default: $OPENKLING_DATA_DIR or ./openkling-data).",
)


@click.group()
@click.version_option(package_name="openkling")
def main() -> None:
    """openkling: a self-hosted text-to-video service that speaks the Kling API."""


@main.command()
@click.option(
    "--host", default=None, help="Interface to listen on [env OPENKLING_HOST; default 127.0.0.1]."
)
@click.option("--port", type=int, default=None, help="Port [env OPENKLING_PORT; default 8000].")
@data_dir_option
@click.option(
    "--ssl-certfile",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="TLS certificate chain (PEM): serve HTTPS instead of HTTP. Needs --ssl-keyfile.",
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Private key (PEM) of --ssl-certfile.",
)
@click.option("--no-worker", is_flag=True, help="API only: run no engine in this process.")
def serve(host, port, data_dir, ssl_certfile, ssl_keyfile, no_worker) -> None:
    """Run the API server with its embedded worker.

    The first start on a data dir creates an account and prints its keys; later starts print
    where keys come from (`openkling keys create`).
    """
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise click.UsageError("--ssl-certfile and --ssl-keyfile go together: give both")
    from ..api.app import create_app
    from ..api.server import run
    from ..errors import DataDirInUse
    from ..runtime import build_runtime

    settings = load_settings(data_dir, host=host, port=port, workers=0 if no_worker else None)
    configure_logging(settings.log_level, settings.log_format)
    try:
        runtime = build_runtime(settings)
    except DataDirInUse as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    _first_start(runtime, ssl=bool(ssl_certfile))
    app = create_app(settings, runtime=runtime)
    run(app, settings, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)


def _first_start(runtime, *, ssl: bool) -> None:
    from ..tasks.accounts import create_account, first_account

    settings = runtime.settings
    with runtime.sessions.begin() as s:
        existing = first_account(s) is not None
        if not existing:
            account = create_account(s, name="default", credits_amount=settings.default_credits)
    if existing:
        where = f" --data-dir {settings.data_dir}" if not settings.database_url else ""
        hint = (
            f"openkling: this database already has accounts (their keys were printed when "
            f"each was made; they are not shown again). New keys: openkling keys "
            f"create{where}"
        )
        if settings.log_format == "json":
            log.info(hint)
        else:
            click.echo(f"\n{hint}\n", err=True)
        return
    if settings.log_format == "json":  # a log stream: no secrets in it, only where they are
        log.info(
            "created the default account (access key %s); its secret key is shown only on a "
            "plain-format first start: run `openkling keys create` for a key pair to use",
            account.access_key,
        )
        return
    scheme = "https" if ssl else "http"
    host = runtime.settings.host if runtime.settings.host != "0.0.0.0" else "127.0.0.1"
    base = runtime.settings.public_base_url or f"{scheme}://{host}:{runtime.settings.port}"
    click.echo(
        f"""
openkling: created the default account ({runtime.settings.default_credits} credits).

  Studio: {base}/   (sign in with the secret key below as the API key)

  export KLING_ACCESS_KEY={account.access_key}
  export KLING_SECRET_KEY={account.secret_key}
  export KLING_BASE_URL={base}
  # webhook secret (verifies callbacks): {account.webhook_secret}

Try it:
  curl -s -X POST $KLING_BASE_URL/v1/videos/text2video \\
    -H "Authorization: Bearer $KLING_SECRET_KEY" -H "Content-Type: application/json" \\
    -d '{{"model_name": "kling-v1", "prompt": "a lighthouse in a storm", "duration": "5"}}'
""",
        err=True,
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@data_dir_option
def db_upgrade(data_dir) -> None:
    """Create or migrate the schema to the newest revision (Alembic)."""
    from ..store.db import current_revision, make_engine, upgrade

    settings = load_settings(data_dir)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    click.echo(f"database at revision {current_revision(engine)}")


@main.group()
def keys() -> None:
    """Account keys."""


@keys.command("create")
@click.option("--name", default="", help="A label for the account.")
@click.option(
    "--credits",
    "amount",
    type=float,
    default=None,
    show_default="$OPENKLING_DEFAULT_CREDITS, 1000",
    help="Initial credits.",
)
@click.option(
    "--models",
    default=None,
    help="Comma-separated model names this key may use (default: all).",
)
@click.option(
    "--priority",
    type=click.FloatRange(min=0.01, max=1000),
    default=1.0,
    show_default=True,
    help="Weight of the account's share of the workers (docs/scheduling.md).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the keys as JSON.")
@data_dir_option
def keys_create(name, amount, models, priority, as_json, data_dir) -> None:
    """Create an account and print its access key, secret key and webhook secret."""
    from ..domain.vocabulary import ALL_MODEL_NAMES as MODEL_NAMES
    from ..runtime import open_store
    from ..tasks.accounts import create_account

    allowed = [m.strip() for m in models.split(",") if m.strip()] if models else None
    unknown = [m for m in allowed or [] if m not in MODEL_NAMES]
    if unknown:
        raise click.BadParameter(
            f"unknown model {', '.join(unknown)}; valid: {', '.join(MODEL_NAMES)}",
            param_hint="--models",
        )
    settings = load_settings(data_dir)
    sessions = open_store(settings)
    amount = settings.default_credits if amount is None else amount
    with sessions.begin() as s:
        account = create_account(s, name=name, credits_amount=amount, allowed_models=allowed)
        account.priority = priority
    out = {
        "access_key": account.access_key,
        "secret_key": account.secret_key,
        "webhook_secret": account.webhook_secret,
        "credits": int(amount) if float(amount).is_integer() else amount,
    }
    if allowed:
        out["allowed_models"] = allowed
    if priority != 1.0:
        out["priority"] = priority
    if as_json:
        click.echo(json.dumps(out))
    else:
        for k, v in out.items():
            click.echo(f"{k}: {v}")


@keys.command("revoke")
@click.argument("access_key")
@data_dir_option
def keys_revoke(access_key, data_dir) -> None:
    """Revoke the keys of ACCESS_KEY: every API host refuses them (401) from now on.

    The account's tasks, results and credits stay; running tasks finish.
    """
    from ..runtime import open_store
    from ..tasks.accounts import KeyNotFound, KeyRevoked, revoke_keys

    sessions = open_store(load_settings(data_dir))
    try:
        with sessions.begin() as s:
            revoke_keys(s, access_key)
    except KeyNotFound:
        _no_account(access_key)
    except KeyRevoked:
        click.echo(f"access key {access_key} was already revoked")
        return
    click.echo(f"revoked access key {access_key}")


@keys.command("rotate")
@click.argument("access_key")
@click.option("--json", "as_json", is_flag=True, help="Print the new keys as JSON.")
@data_dir_option
def keys_rotate(access_key, as_json, data_dir) -> None:
    """Give ACCESS_KEY a new secret key; the old secret is refused (401) from now on.

    The access key, webhook secret, credits and tasks stay.
    """
    from ..runtime import open_store
    from ..tasks.accounts import KeyNotFound, KeyRevoked, rotate_secret_key

    sessions = open_store(load_settings(data_dir))
    try:
        with sessions.begin() as s:
            account = rotate_secret_key(s, access_key)
            out = {
                "access_key": account.access_key,
                "secret_key": account.secret_key,
                "webhook_secret": account.webhook_secret,
            }
    except KeyNotFound:
        _no_account(access_key)
    except KeyRevoked:
        click.echo(f"error: access key {access_key} is revoked; create a new key", err=True)
        sys.exit(5)
    if as_json:
        click.echo(json.dumps(out))
    else:
        for k, v in out.items():
            click.echo(f"{k}: {v}")


@keys.command("priority")
@click.argument("access_key")
@click.argument("weight", type=click.FloatRange(min=0.01, max=1000))
@data_dir_option
def keys_priority(access_key, weight, data_dir) -> None:
    """Set the fair-claim WEIGHT of ACCESS_KEY's account (default 1): with weight 2 it may
    hold twice as many running tasks as an account of weight 1 before the other goes first.
    Takes effect at the next claim."""
    from ..runtime import open_store

    sessions = open_store(load_settings(data_dir))
    with sessions.begin() as s:
        account = _account_or_exit(s, access_key)
        account.priority = weight
    click.echo(f"priority: {weight:g}")


@main.group()
def credits() -> None:
    """Account credits."""


def _no_account(access_key: str) -> None:
    click.echo(f"error: no account with access key {access_key}", err=True)
    sys.exit(5)


def _account_or_exit(s, access_key: str):
    from ..tasks.accounts import by_access_key

    account = by_access_key(s, access_key)
    if account is None:
        _no_account(access_key)
    return account


@credits.command("add")
@click.argument("access_key")
@click.argument("amount", type=float)
@data_dir_option
def credits_add(access_key, amount, data_dir) -> None:
    """Add AMOUNT credits to the account of ACCESS_KEY."""
    from ..domain.catalog import format_credits, milli
    from ..runtime import open_store
    from ..tasks.credits import grant

    if amount <= 0:
        raise click.BadParameter("must be positive", param_hint="AMOUNT")
    sessions = open_store(load_settings(data_dir))
    with sessions.begin() as s:
        account = _account_or_exit(s, access_key)
        grant(s, account.id, milli(amount), "credits add")
        s.refresh(account)
        click.echo(f"balance: {format_credits(account.balance_milli)}")


@credits.command("show")
@click.argument("access_key")
@data_dir_option
def credits_show(access_key, data_dir) -> None:
    """Show the balance of the account of ACCESS_KEY."""
    from ..domain.catalog import format_credits
    from ..runtime import open_store

    sessions = open_store(load_settings(data_dir))
    with sessions() as s:
        account = _account_or_exit(s, access_key)
        click.echo(f"balance: {format_credits(account.balance_milli)}")
        if account.priority != 1.0:
            click.echo(f"priority: {account.priority:g}")


@main.command()
@data_dir_option
def sweep(data_dir) -> None:
    """Delete result files past OPENKLING_RETENTION_SECONDS now (servers also do it in the
    background) and mark their tasks expired."""
    from ..runtime import build_storage, open_store
    from ..tasks.retention import sweep as sweep_results

    settings = load_settings(data_dir)
    expired = sweep_results(settings, open_store(settings), build_storage(settings))
    click.echo(f"expired {len(expired)} task(s) older than {settings.retention} s")


def _attach_commands() -> None:
    """Commands that live in their own modules (client side, scale-out worker)."""
    from .client import generate, tasks
    from .image import image
    from .neighbours import effect, extend, multi_image
    from .webhooks import webhooks
    from .worker import worker

    for command in (generate, image, tasks, worker, webhooks, extend, effect, multi_image):
        main.add_command(command)


_attach_commands()


if __name__ == "__main__":
    main()
