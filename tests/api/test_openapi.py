"""The OpenAPI document describes the API (models, parameters, security, every error status),
and schemathesis, run against a live server, finds no 5xx, no schema violation and no
undocumented status."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import httpx
import pytest

from openkling.api.doors import speaks_openai
from support.harness import AppServer

ENV = {
    "OPENKLING_WORKERS": "0",  # tasks stay submitted: the run measures the edge, not engines
    "OPENKLING_RATE_LIMIT_PER_MINUTE": "0",
    "OPENKLING_MAX_CONCURRENT_TASKS": "0",
}
ERROR = {"$ref": "#/components/schemas/ErrorEnvelope"}
OPENAI_ERROR = {"$ref": "#/components/schemas/OpenAIErrorEnvelope"}

# Checks that cannot hold for the Kling contract, written down rather than silenced:
KNOWN_EXCEPTIONS = {
    # Kling ignores fields it does not know, and openkling accepts the seed's spellings
    # ("standard", numbers for duration): data outside the schema can rightly succeed.
    "negative_data_rejection": "unknown fields are ignored, as Kling does",
    # Rules across fields (one camera axis, audio only on audio models, a model the
    # deployment's catalog offers) are beyond JSON Schema: valid-looking data can get 400.
    "positive_data_acceptance": "cross-field rules and the deployment's catalog",
    # Stateful checks that need links between operations, which the document does not draw.
    "use_after_free": "no DELETE operation",
    "ensure_resource_availability": "no links between operations",
    "object_level_authorization": "tenancy has its own tests (test_tenancy_and_paging.py)",
}
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
    "missing_required_header",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = AppServer(socket=True, data_dir=tmp_path_factory.mktemp("openapi"), env=ENV)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def doc(server) -> dict:
    resp = httpx.get(server.base_url + "/openapi.json", timeout=30)
    assert resp.status_code == 200
    return resp.json()


def operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield path, method, op


def test_create_has_its_request_body(doc):
    op = doc["paths"]["/v1/videos/text2video"]["post"]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert body["required"] == ["prompt"]
    props = body["properties"]
    assert props["prompt"]["maxLength"] == 2500
    assert "kling-v1" in props["model_name"]["enum"] and "kling-v3" in props["model_name"]["enum"]
    assert set(props["aspect_ratio"]["enum"]) == {"16:9", "9:16", "1:1"}
    assert props["cfg_scale"]["minimum"] == 0 and props["cfg_scale"]["maximum"] == 1
    for name in ("camera_control", "sound", "callback_url", "external_task_id", "duration"):
        assert name in props


def test_list_and_get_have_their_query_parameters(doc):
    listed = {p["name"]: p for p in doc["paths"]["/v1/videos/text2video"]["get"]["parameters"]}
    assert listed["pageNum"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000}
    assert listed["pageSize"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 500}
    assert "external_task_id" in listed
    one = doc["paths"]["/v1/videos/text2video/{task_id}"]["get"]["parameters"]
    assert {p["name"] for p in one} == {"task_id", "external_task_id"}


def test_a_bearer_scheme_guards_the_api_routes_only(doc):
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    secured = {(p, m) for p, m, op in operations(doc) if op.get("security") == [{"bearer": []}]}
    assert ("/v1/videos/text2video", "post") in secured
    assert ("/account/costs", "get") in secured
    for open_path in ("/healthz", "/readyz", "/media/{key}"):
        assert (open_path, "get") not in secured


def test_every_error_status_is_documented_with_its_envelope(doc):
    assert doc["components"]["schemas"]["ErrorEnvelope"]["required"] == [
        "code",
        "message",
        "request_id",
    ]
    for path, method, op in operations(doc):
        responses = op["responses"]
        assert "422" not in responses, (path, method)  # openkling never sends it
        for status in ("400", "408", "500", "503"):
            assert status in responses, (path, method, status)
        envelope = OPENAI_ERROR if speaks_openai(path) else ERROR
        if op.get("security"):
            assert responses["401"]["content"]["application/json"]["schema"] == envelope
        for status, response in responses.items():
            if status.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == envelope, (path, status)
    create = doc["paths"]["/v1/videos/text2video"]["post"]["responses"]
    assert {"402", "403", "429"} <= set(create)
    got = doc["paths"]["/v1/videos/text2video/{task_id}"]["get"]["responses"]
    assert got["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/TaskEnvelope")
    assert "404" in got


def test_schemathesis_finds_no_5xx_no_schema_violation_no_undocumented_status(server, tmp_path):
    """A seeded, bounded run (about half a minute on a quiet machine) of every operation."""
    exe = shutil.which("schemathesis") or shutil.which("st")
    assert exe, "schemathesis is not installed (pip install -e '.[dev]')"
    payer = server.new_account(credits=10_000_000)  # creates must not run out of credits
    assert set(KNOWN_EXCEPTIONS).isdisjoint(CHECKS)
    cmd = [
        exe,
        "run",
        f"{server.base_url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--header",
        f"Authorization: Bearer {payer.secret_key}",
        "--seed",
        "20261124",
        "--generation-deterministic",  # and so no example database
        "--max-examples",  # per operation, on top of the coverage phase's boundary cases
        "40",
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        # event streams end only at a terminal status, and tasks here never run: their own
        # tests are tests/api/test_events.py
        "--exclude-path-regex",
        "/events$",
    ]
    proc = subprocess.run(
        cmd,
        cwd=tmp_path,  # its reports, if any, stay out of the checkout
        capture_output=True,
        text=True,
        timeout=480,  # every door adds operations (images alone: about a minute on 2 busy cores)
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-8000:] + "\n--- server log ---\n" + server.log()[-3000:]
    tested = re.search(r"(\d+) generated, (\d+) passed", output)
    assert tested and int(tested[1]) >= 500 and tested[1] == tested[2], output[-3000:]
    # and, counted by the server itself: it answered no request with a 5xx
    assert not re.findall(r'HTTP/1\.1" 5\d\d', server.log()), server.log()[-3000:]
