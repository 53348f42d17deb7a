"""StoredTask, the record a task crosses seams as: made from each kind of read the same way."""

from __future__ import annotations

import json

import pytest

from openkling.domain.status import TaskStatus
from openkling.domain.task import COLUMNS, StoredTask
from openkling.store.models import TASKS, Task

VALUES = {
    "id": "179548461512025135",
    "account_id": 7,
    "external_task_id": "mine-1",
    "model_name": "kling-v1",
    "family": "text2video",
    "request": {"model_name": "kling-v1", "prompt": "a cat"},
    "status": "succeed",
    "status_msg": None,
    "progress": 100,
    "seed": 42,
    "cost_milli": 1000,
    "result": {"videos": [], "seed": 42},
    "callback_url": None,
    "attempts": 1,
    "lease_owner": None,
    "lease_expires_at": None,
    "cancel_requested": 0,
    "created_at": 1_795_484_615_123,
    "updated_at": 1_795_484_625_999,
    "expired_at": None,
    "started_at": 1_795_484_616_000,
    "passed_over": 0,
}


def test_its_fields_are_the_tasks_table_columns_in_order():
    # reads pass a row of select(TASKS) straight to from_values
    assert COLUMNS == tuple(TASKS.c.keys())


def test_json_stored_as_text_is_decoded():
    raw = dict(VALUES, request=json.dumps(VALUES["request"]), result=json.dumps(VALUES["result"]))
    task = StoredTask.from_values([raw[name] for name in COLUMNS])
    assert task.status is TaskStatus.SUCCEED and task.finished
    assert task.request == {"model_name": "kling-v1", "prompt": "a cat"}
    assert task.result == {"videos": [], "seed": 42}
    assert task.cancel_requested is False and task.status_msg == ""
    assert task == StoredTask.from_mapping(VALUES)


def test_from_an_orm_object_and_immutable():
    task = StoredTask.from_object(Task(**VALUES))
    assert task.external_task_id == "mine-1" and task.status is TaskStatus.SUCCEED
    with pytest.raises(AttributeError):
        task.status = TaskStatus.FAILED  # type: ignore[misc]


def test_an_unknown_status_is_refused():
    with pytest.raises(ValueError):
        StoredTask.from_mapping(dict(VALUES, status="done"))
