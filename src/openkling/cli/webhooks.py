"""`openkling webhooks ...`: an account's webhook secrets (show, rotate, delete) and a test
callback, on the data dir's store (beside a running server, like `openkling keys`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .options import load_settings


def _data_dir_option(fn):
    return click.option(
        "--data-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Data directory (default: $OPENKLING_DATA_DIR or ./openkling-data).",
    )(fn)


def _open(data_dir: Path | None, access_key: str):
    """The store and the id of ACCESS_KEY's account; exits 5 when there is none."""
    from ..runtime import open_store
    from ..tasks.accounts import by_access_key

    settings = load_settings(data_dir)
    sessions = open_store(settings)
    with sessions() as s:
        account = by_access_key(s, access_key)
        if account is None:
            click.echo(f"error: no account with access key {access_key}", err=True)
            sys.exit(5)
        return settings, sessions, account.id


def _print(data: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data))
        return
    if not data["secrets"]:
        click.echo("no webhook secret: callbacks are sent unsigned")
    for secret in data["secrets"]:
        until = f" (signs until {secret['expires_at']} ms)" if secret["expires_at"] else ""
        click.echo(f"{secret['state']}: {secret['secret']}{until}")


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group()
def webhooks() -> None:
    """Webhook secrets that sign callbacks (Standard Webhooks), and test callbacks."""


@webhooks.command("show")
@click.argument("access_key")
@json_option
@_data_dir_option
def show(access_key, as_json, data_dir) -> None:
    """Show the secrets that sign ACCESS_KEY's callbacks."""
    from ..store.models import Account
    from ..tasks import webhook_secrets

    _, sessions, account_id = _open(data_dir, access_key)
    with sessions() as s:
        _print(webhook_secrets.describe(s.get(Account, account_id)), as_json)


@webhooks.command("rotate")
@click.argument("access_key")
@click.option(
    "--emergency",
    is_flag=True,
    help="The old secret stops signing at once (default: it signs too for 7 days).",
)
@json_option
@_data_dir_option
def rotate(access_key, emergency, as_json, data_dir) -> None:
    """Make a new webhook secret for ACCESS_KEY."""
    from ..tasks import webhook_secrets

    _, sessions, account_id = _open(data_dir, access_key)
    _print(webhook_secrets.rotate(sessions, account_id, emergency=emergency), as_json)


@webhooks.command("delete")
@click.argument("access_key")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Delete every secret: callbacks are then sent with no signature headers.",
)
@json_option
@_data_dir_option
def delete(access_key, everything, as_json, data_dir) -> None:
    """Delete ACCESS_KEY's previous (rotated-out) webhook secret, or --all of them."""
    from ..tasks import webhook_secrets

    _, sessions, account_id = _open(data_dir, access_key)
    scope = "all" if everything else "previous"
    _print(webhook_secrets.delete(sessions, account_id, scope=scope), as_json)


@webhooks.command("test")
@click.argument("access_key")
@click.argument("callback_url")
@_data_dir_option
def test(access_key, callback_url, data_dir) -> None:
    """Queue a test callback to CALLBACK_URL, signed as ACCESS_KEY's callbacks are (one per
    6 seconds); a server on this data dir's store sends it."""
    from ..contract.fields import _url
    from ..contract.kling2026 import probe_body
    from ..errors import InvalidParameter, OpenklingError
    from ..tasks import callbacks

    settings, sessions, account_id = _open(data_dir, access_key)
    try:
        url = _url(callback_url, allow=settings.url_allowlist, field="callback_url")
        if url is None:
            raise InvalidParameter("callback_url: is required (an http(s) URL)")
        body = callbacks.send_test(sessions, account_id, url, probe_body)
    except OpenklingError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
    click.echo(json.dumps(body))
