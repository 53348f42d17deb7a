"""The OpenAI wire module on its own: the model map setting, the video object of each status,
and the error shape."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from openkling import errors as e
from openkling.config import Settings
from openkling.contract import openai as oa
from openkling.domain.catalog import default_catalog
from openkling.domain.request import GenerationRequest
from openkling.domain.task import StoredTask


def test_model_map_setting_forms(monkeypatch):
    monkeypatch.setenv("OPENKLING_OPENAI_MODEL_MAP", "sora-2=kling-v3:pro, sora-2-pro=kling-v2-6")
    targets = oa.model_targets(Settings().openai_model_map, default_catalog())
    assert targets == {
        "sora-2": oa.ModelTarget("kling-v3", "pro"),
        "sora-2-pro": oa.ModelTarget("kling-v2-6", "std"),
    }
    monkeypatch.setenv("OPENKLING_OPENAI_MODEL_MAP", '{"my-model": "kling-v1:pro"}')
    assert oa.model_targets(Settings().openai_model_map, default_catalog()) == {
        "my-model": oa.ModelTarget("kling-v1", "pro")
    }
    monkeypatch.setenv("OPENKLING_OPENAI_MODEL_MAP", "sora-2=kling-v1:turbo")
    with pytest.raises(ValidationError, match="kling-model:std|pro"):
        Settings()


def test_default_map_follows_the_catalog():
    assert oa.model_targets({}, default_catalog()) == {
        "sora-2": oa.ModelTarget("kling-v1", "std"),
        "sora-2-pro": oa.ModelTarget("kling-v1", "pro"),
    }


def task(status: str, **fields) -> StoredTask:
    request = GenerationRequest(
        model_name="kling-v1", prompt="p", duration=8, size=(1024, 1792), wire={"model": "sora-2"}
    )
    row = dict(
        id="179548461512025135",
        account_id=1,
        family=oa.FAMILY,
        external_task_id=None,
        model_name="kling-v1",
        request=request.model_dump(mode="json"),
        status=status,
        status_msg="",
        progress=0,
        seed=7,
        cost_milli=0,
        result=None,
        callback_url=None,
        attempts=0,
        lease_owner=None,
        lease_expires_at=None,
        cancel_requested=False,
        created_at=1_795_484_615_123,
        updated_at=1_795_484_625_999,
        expired_at=None,
        started_at=None,
        passed_over=0,
    )
    row.update(fields)
    return StoredTask.from_mapping(row)


def test_video_object_of_each_status():
    targets = oa.model_targets({}, default_catalog())
    queued = oa.video_object(task("submitted"), targets)
    assert queued["status"] == "queued" and queued["completed_at"] is None
    assert (queued["size"], queued["seconds"], queued["created_at"]) == (
        "1024x1792",
        "8",
        1795484615,
    )
    running = oa.video_object(task("processing", progress=100), targets)
    assert running["status"] == "in_progress" and running["progress"] == 99  # 100 means done
    failed = oa.video_object(task("failed", status_msg="engine ran out of memory"), targets)
    assert failed["status"] == "failed" and failed["completed_at"] == 1795484625
    assert failed["error"] == {
        "code": "video_generation_failed",
        "message": "engine ran out of memory",
    }
    assert set(queued) == {
        "id",
        "object",
        "model",
        "prompt",
        "status",
        "progress",
        "created_at",
        "completed_at",
        "expires_at",
        "size",
        "seconds",
        "remixed_from_video_id",
        "error",
    }


def test_error_shape_names_the_param():
    body = oa.error_body(e.InvalidParameter("seconds: '5' is not allowed"))
    assert body == {
        "error": {
            "message": "seconds: '5' is not allowed",
            "type": "invalid_request_error",
            "param": "seconds",
            "code": "invalid_value",
        }
    }
    assert oa.error_body(e.TokenExpired())["error"]["code"] == "invalid_api_key"
    assert oa.error_body(e.InternalError())["error"]["param"] is None
