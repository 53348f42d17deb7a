"""`openkling keys rotate` and `keys revoke` beside running API hosts: the old credentials get
401 at once on every host, the account keeps its tasks and credits."""

from __future__ import annotations

import json
import subprocess

from liveserver import Account as Keys

from .conftest import api_hosts, cli

PATH = "/v1/videos/text2video"
QUIET = {"OPENKLING_WORKERS": "0"}


def _status(host, keys: Keys, path: str = PATH) -> tuple[int, int]:
    resp = host.request("GET", path, headers=keys.headers())
    return resp.status_code, resp.json()["code"]


def _bearer(host, secret: str) -> tuple[int, int]:
    """The secret key itself as API key (the other way to authenticate)."""
    resp = host.request("GET", PATH, headers={"Authorization": f"Bearer {secret}"})
    return resp.status_code, resp.json()["code"]


def _create(host, headers: dict, body: dict | None = None) -> tuple[int, int]:
    resp = host.request("POST", PATH, json=body or {"prompt": "a kite"}, headers=headers)
    return resp.status_code, resp.json()["code"]


def _cli_run(host, *args: str) -> subprocess.CompletedProcess:
    """The command's exit code and output, whatever the code (click's runner, in this
    process: the API hosts are the processes here)."""
    try:
        return cli(*args, data_dir=host.data_dir, env=host.env)
    except subprocess.CalledProcessError as failed:
        return subprocess.CompletedProcess(
            failed.cmd, failed.returncode, failed.output, failed.stderr
        )


def test_rotate_then_revoke_take_effect_at_once_on_every_host(tmp_path, database_url):
    hosts = api_hosts(tmp_path, {**QUIET, "OPENKLING_DATABASE_URL": database_url})
    try:
        old = hosts[0].account
        bystander = hosts[0].new_account(credits=50)
        task = hosts[0].request("POST", PATH, json={"prompt": "a red kite"}).json()["data"]
        for host in hosts:  # every host has just served these credentials
            assert _status(host, old) == (200, 0)
            assert _bearer(host, old.secret_key) == (200, 0)

        out = cli("keys", "rotate", old.access_key, "--json", data_dir=hosts[1].data_dir,
                  env=hosts[1].env).stdout  # fmt: skip
        rotated = json.loads(out)
        assert rotated["access_key"] == old.access_key
        assert rotated["webhook_secret"] == old.webhook_secret
        assert rotated["secret_key"].startswith("sk") and rotated["secret_key"] != old.secret_key
        new = Keys(**rotated, credits=old.credits)
        task_path = f"{PATH}/{task['task_id']}"
        for host in hosts:  # first the polled get and the create, while the old key is cached
            assert _status(host, old, task_path) == (401, 1002)
            assert _create(host, old.headers()) == (401, 1002)
            assert _create(host, {"Authorization": f"Bearer {old.secret_key}"}) == (401, 1002)
        for host in hosts:
            assert _status(host, old) == (401, 1002)  # a JWT signed with the old secret
            assert _bearer(host, old.secret_key) == (401, 1002)
            assert _status(host, new) == (200, 0)
            assert _bearer(host, new.secret_key) == (200, 0)
            # same account: its task and its balance are still there
            listed = host.request("GET", PATH, headers=new.headers()).json()["data"]
            assert [t["task_id"] for t in listed] == [task["task_id"]]
            costs = host.request("GET", "/account/costs", headers=new.headers()).json()["data"]
            assert costs["resource_pack_subscribe_infos"][0]["remaining_quantity"] == 1000 - 10

        out = cli("keys", "revoke", old.access_key, data_dir=hosts[0].data_dir, env=hosts[0].env)
        assert f"revoked access key {old.access_key}" in out.stdout
        for host in hosts:  # cached a moment ago; refused at once all the same
            assert _create(host, new.headers()) == (401, 1002)
            assert _create(host, new.headers(), body={"prompt": ""}) == (401, 1002)
            assert _status(host, new, task_path) == (401, 1002)
        for host in hosts:
            assert _status(host, new) == (401, 1002)
            assert _bearer(host, new.secret_key) == (401, 1002)
            assert _status(host, new, f"{PATH}/{task['task_id']}") == (401, 1002)
            create = host.request("POST", PATH, json={"prompt": "x"}, headers=new.headers())
            assert (create.status_code, create.json()["code"]) == (401, 1002)
            assert _status(host, bystander) == (200, 0)  # other accounts are untouched

        again = _cli_run(hosts[0], "keys", "revoke", old.access_key)
        assert again.returncode == 0 and "already revoked" in again.stdout
        rotate = _cli_run(hosts[0], "keys", "rotate", old.access_key)
        assert rotate.returncode == 5 and "is revoked" in rotate.stderr
        unknown = _cli_run(hosts[0], "keys", "revoke", "akNoSuchKey")
        assert unknown.returncode == 5
        assert "no account with access key akNoSuchKey" in unknown.stderr
        # the revoked account's data is kept (credits can still be read by the operator)
        shown = _cli_run(hosts[0], "credits", "show", old.access_key)
        assert shown.returncode == 0 and "balance: 990" in shown.stdout
    finally:
        for host in hosts:
            host.stop()
