"""Per-key model permissions: a key limited to some models gets 403 / 1103 for the others,
and nothing is stored or charged."""

from __future__ import annotations

import json

import pytest

from liveserver import Account, cli
from openkling.client import Kling, PermissionDeniedError


def test_key_limited_to_models(live_server):
    out = cli(
        "keys",
        "create",
        "--json",
        "--credits",
        "100",
        "--models",
        "kling-v1,kling-v1-6",
        data_dir=live_server.data_dir,
    )
    keys = json.loads(out.stdout)
    assert keys["allowed_models"] == ["kling-v1", "kling-v1-6"]
    account = Account(
        **{k: keys[k] for k in ("access_key", "secret_key", "webhook_secret")},
        credits=keys["credits"],
    )

    denied = live_server.request(
        "POST",
        "/v1/videos/text2video",
        account=account,
        json={"model_name": "kling-v2-6", "prompt": "a fox in the snow"},
    )
    assert denied.status_code == 403
    body = denied.json()
    assert body["code"] == 1103 and "kling-v2-6" in body["message"] and "data" not in body
    listed = live_server.request("GET", "/v1/videos/text2video", account=account).json()
    assert listed["data"] == []
    costs = live_server.request("GET", "/account/costs", account=account).json()["data"]
    assert costs["resource_pack_subscribe_infos"][0]["remaining_quantity"] == 100
    assert costs["balance"] == 100

    allowed = live_server.request(
        "POST",
        "/v1/videos/text2video",
        account=account,
        json={"model_name": "kling-v1-6", "prompt": "a fox in the snow"},
    )
    assert allowed.status_code == 200

    with (
        Kling(
            access_key=account.access_key,
            secret_key=account.secret_key,
            base_url=live_server.base_url,
        ) as client,
        pytest.raises(PermissionDeniedError) as err,
    ):
        client.text2video.create(prompt="a fox", model_name="kling-v2-master")
    assert err.value.status_code == 403 and err.value.code == 1103


def test_keys_create_rejects_unknown_model(tmp_path):
    import subprocess

    with pytest.raises(subprocess.CalledProcessError) as err:
        cli("keys", "create", "--models", "kling-v9", data_dir=tmp_path)
    assert "kling-v9" in err.value.stderr
