"""Each app keeps its own verified-token cache: two apps in one process share no credentials."""

from __future__ import annotations

from fastapi.testclient import TestClient

from liveserver import make_token
from openkling.api.app import create_app
from openkling.config import Settings
from openkling.tasks.accounts import create_account


def settings(data_dir) -> Settings:
    # metrics off: the store gauges register in the process-wide Prometheus registry
    return Settings(data_dir=data_dir, workers=0, rate_limit_per_minute=0, metrics=False)


def test_a_token_verified_by_one_app_is_not_known_to_another(tmp_path):
    first = create_app(settings(tmp_path / "a"))
    second = create_app(settings(tmp_path / "b"))
    with TestClient(first) as a, TestClient(second) as b:
        with first.state.runtime.sessions.begin() as s:
            account = create_account(s, name="alice", credits_amount=5)
            keys = account.access_key, account.secret_key
        token = make_token(*keys)
        headers = {"Authorization": f"Bearer {token}"}

        assert a.get("/account/costs", headers=headers).status_code == 200
        assert first.state.auth.verified.get(token) is not None
        assert second.state.auth.verified.get(token) is None

        refused = b.get("/account/costs", headers=headers)  # its store has no such key
        assert (
            refused.status_code == 401 and refused.json()["code"] == 1002
        )  # not a known access key
        assert second.state.auth.verified.get(token) is None
