"""/account/webhooks: an account's webhook secrets (show, rotate, delete) and a test callback,
authenticated with the account's own key. The CLI's `openkling webhooks` does the same."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from ...contract.fields import _url
from ...contract.kling2026 import probe_body, validate
from ...contract.kling2026.webhooks import (
    DeleteRequest,
    RotateRequest,
    TestCallbackRequest,
    WebhookSecrets,
)
from ...errors import InvalidParameter
from ...store.models import Account
from ...tasks import callbacks, webhook_secrets
from ..body import json_body
from ..context import ok
from ..deps import AccountDep, RuntimeDep
from ..openapi import errors
from ..openapi import json_body as body_doc

router = APIRouter(prefix="/account/webhooks", tags=["webhooks"])


class _Success(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Literal[0]
    message: Literal["SUCCEED"]
    request_id: str


class SecretsEnvelope(_Success):
    data: WebhookSecrets


class TestEnvelope(_Success):
    data: dict


async def _body(request: Request, rt) -> object:
    raw = await request.body()
    return await json_body(request, rt.settings.max_body_bytes) if raw.strip() else {}


@router.get("", summary="This account's webhook secrets", response_model=SecretsEnvelope)
def show(request: Request, rt: RuntimeDep, account: AccountDep):
    with rt.sessions() as s:
        row = s.get(Account, account.id)
        assert row is not None  # an authenticated account exists
        return ok(webhook_secrets.describe(row), request)


@router.post(
    "/rotate",
    summary="Rotate the webhook secret (standard: 7 days of both; emergency: at once)",
    response_model=SecretsEnvelope,
    openapi_extra=body_doc(RotateRequest),
)
async def rotate(request: Request, rt: RuntimeDep, account: AccountDep):
    req = validate(RotateRequest, await _body(request, rt))
    emergency = req.type == "emergency"
    data = await run_in_threadpool(
        webhook_secrets.rotate, rt.sessions, account.id, emergency=emergency
    )
    return ok(data, request)


@router.post(
    "/delete",
    summary="Delete the previous webhook secret, or all of them (callbacks then go unsigned)",
    response_model=SecretsEnvelope,
    openapi_extra=body_doc(DeleteRequest),
)
async def delete(request: Request, rt: RuntimeDep, account: AccountDep):
    req = validate(DeleteRequest, await _body(request, rt))
    data = await run_in_threadpool(webhook_secrets.delete, rt.sessions, account.id, scope=req.scope)
    return ok(data, request)


@router.post(
    "/test",
    summary="Send a test callback (at most one per 6 seconds)",
    response_model=TestEnvelope,
    responses=errors(429),
    openapi_extra=body_doc(TestCallbackRequest),
)
async def test_callback(request: Request, rt: RuntimeDep, account: AccountDep):
    req = validate(TestCallbackRequest, await _body(request, rt))
    url = _url(req.callback_url, allow=rt.settings.url_allowlist, field="callback_url")
    if url is None:
        raise InvalidParameter("callback_url: is required (an http(s) URL)")
    body = await run_in_threadpool(callbacks.send_test, rt.sessions, account.id, url, probe_body)
    if rt.lifecycle.on_callback:  # the sender posts it now, not at its next poll
        rt.lifecycle.on_callback()
    return ok(body, request)
