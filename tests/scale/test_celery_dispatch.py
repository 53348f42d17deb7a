"""The Celery dispatcher against a real Redis broker: queue per model, sweeper, readiness."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import redis

from openkling.config import Settings
from openkling.dispatch.celery import CeleryDispatcher, queue_name, split_broker_url


def _task_ids(broker_url: str, model: str) -> list[str]:
    """Task ids waiting in a model's queue, read straight from Redis."""
    import base64

    ids = []
    prefix = parse_qs(urlsplit(broker_url).query)["global_keyprefix"][0]
    client = redis.Redis.from_url(split_broker_url(broker_url)[0])
    for raw in client.lrange(f"{prefix}{queue_name(model)}", 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        assert message["headers"]["task"] == "openkling.run"
        ids.append(args[0])
    client.close()
    return sorted(ids)


def test_split_broker_url_moves_the_key_prefix_to_transport_options():
    url, options = split_broker_url("redis://h:6379/3?global_keyprefix=stage:&ssl_cert_reqs=none")
    assert url == "redis://h:6379/3?ssl_cert_reqs=none"
    assert options == {"global_keyprefix": "stage:"}
    assert split_broker_url("redis://h:6379/0") == ("redis://h:6379/0", {})


def test_submit_puts_the_task_id_on_its_models_queue(broker_url):
    dispatcher = CeleryDispatcher(
        Settings(broker_url=broker_url), stale=lambda: [], sweep_seconds=1
    )
    try:
        dispatcher.check()
        dispatcher.submit("100", "kling-v1")
        dispatcher.submit("200", "kling-v2-6")
        dispatcher.submit("300", "kling-v1")
        assert _task_ids(broker_url, "kling-v1") == ["100", "300"]
        assert _task_ids(broker_url, "kling-v2-6") == ["200"]
    finally:
        dispatcher.stop()


def test_sweeper_republishes_stale_tasks_with_backoff(broker_url):
    stale = [("700", "kling-v1"), ("701", "kling-v2-6")]
    dispatcher = CeleryDispatcher(
        Settings(broker_url=broker_url), stale=lambda: list(stale), sweep_seconds=30
    )
    try:
        assert dispatcher.sweep_once() == 2  # never published by this process: at once
        assert dispatcher.sweep_once() == 0  # just published: wait before another copy
        dispatcher.submit("702", "kling-v1")
        stale.append(("702", "kling-v1"))
        assert dispatcher.sweep_once() == 0  # published at submit a moment ago
        assert _task_ids(broker_url, "kling-v1") == ["700", "702"]
        assert _task_ids(broker_url, "kling-v2-6") == ["701"]
    finally:
        dispatcher.stop()


def test_broker_outage_fails_readiness_but_not_submit():
    from .conftest import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    dispatcher = CeleryDispatcher(Settings(broker_url=dead), stale=lambda: [], sweep_seconds=1)
    try:
        dispatcher.submit("900", "kling-v1")  # logged; the sweeper publishes it later
        with pytest.raises(Exception):  # noqa: B017 - any connection error will do
            dispatcher.check()
    finally:
        dispatcher.stop()
