"""Requests of openkling's webhook-secret endpoints (Kling manages these in its console):
standard or emergency rotation, deleting the previous or all secrets, a test callback."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..model import RequestModel

_STRICT = ConfigDict(extra="forbid", strict=True)


class RotateRequest(RequestModel):
    model_config = _STRICT
    type: Literal["standard", "emergency"] = Field(
        "standard",
        description="standard: the old secret also signs for 7 days; emergency: it is dead now",
    )


class DeleteRequest(RequestModel):
    model_config = _STRICT
    scope: Literal["previous", "all"] = Field(
        description="previous: the rotated-out secret; all: callbacks are then sent unsigned"
    )


class TestCallbackRequest(RequestModel):
    model_config = _STRICT
    callback_url: str = Field(description="where the test callback is sent (at most 1 per 6 s)")


class WebhookSecret(BaseModel):
    secret: str
    state: Literal["current", "previous"]
    expires_at: int | None = None  # ms; the previous secret's end of grace


class WebhookSecrets(BaseModel):
    signed: bool  # false once every secret is deleted: callbacks carry no signature headers
    secrets: list[WebhookSecret]
