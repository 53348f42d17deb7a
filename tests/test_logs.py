"""Logs of a real server: JSON lines that carry the request id the client got; no secrets."""

from __future__ import annotations

import json
import logging

from openkling.observability import logs


def records(server) -> list[dict]:
    lines = [line for line in server.log().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(p, dict) and {"time", "level", "message"} <= p.keys() for p in parsed)
    return parsed


def test_json_logs_carry_the_request_id_of_the_create(server_factory):
    server = server_factory(env={"OPENKLING_LOG_FORMAT": "json"})
    response = server.request("POST", "/v1/videos/text2video", json={"prompt": "a fox"})
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    assert response.json()["request_id"] == request_id
    task_id = response.json()["data"]["task_id"]
    task = server.wait_task(task_id)
    media = httpx_get(task["task_result"]["videos"][0]["url"])
    assert media.status_code == 200
    # a plain API key (the secret key itself) in the Authorization header
    plain = {"Authorization": f"Bearer {server.secret_key}"}
    assert server.request("GET", f"/v1/videos/text2video/{task_id}", headers=plain).is_success

    lines = records(server)
    of_create = [r for r in lines if r.get("request_id") == request_id]
    accepted = [r for r in of_create if "accepted" in r["message"]]
    assert len(accepted) == 1
    assert accepted[0]["task_id"] == task_id
    assert accepted[0]["model"] == "kling-v1"
    assert isinstance(accepted[0]["account"], int)
    assert any("POST /v1/videos/text2video" in r["message"] for r in of_create)  # access line
    # the worker's lines for the task name it and its model
    done = [r for r in lines if r.get("task_id") == task_id and "succeed" in r["message"]]
    assert done and done[0]["model"] == "kling-v1"
    # no request's lines carry another request's id
    assert all(r.get("request_id") in (None, request_id) for r in of_create + done)

    text = server.log()
    assert server.secret_key not in text
    signature = task["task_result"]["videos"][0]["url"].split("signature=")[1]
    assert signature not in text
    assert "signature=[redacted]" in text


def httpx_get(url: str):
    import httpx

    return httpx.get(url, timeout=30)


def test_plain_format_stays_the_default(server_factory):
    server = server_factory()
    response = server.request("POST", "/v1/videos/text2video", json={"prompt": "a fox"})
    request_id = response.headers["x-request-id"]
    line = next(x for x in server.log().splitlines() if "accepted" in x)
    assert f"[{request_id}]" in line and not line.startswith("{")


def test_secrets_are_redacted_from_any_message(capsys):
    logger = logging.getLogger("openkling.test-redaction")
    record = logger.makeRecord(
        logger.name,
        logging.WARNING,
        __file__,
        1,
        "auth header %s, key %s, webhook %s",
        ("Bearer eyJhbGciOi.eyJpc3MiOi.c2lnbmF0dXJl", "sk" + "A" * 40, "whsec_c2VjcmV0"),
        None,
    )
    logs.ContextFilter().filter(record)
    for formatter in (logs.JsonFormatter(), logs.PlainFormatter()):
        out = formatter.format(record)
        assert "eyJ" not in out and "A" * 40 not in out and "c2VjcmV0" not in out
        assert out.count("[redacted]") == 3
