"""/account/costs: the account's credit balance, in the official response shape."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...catalog import format_credits
from ...contract import costs_data
from ...store.db import now_ms
from ..context import ok
from ..deps import AccountDep, RuntimeDep
from ..openapi import CostsEnvelope

router = APIRouter(tags=["account"])


@router.get("/account/costs", summary="Credit balance", response_model=CostsEnvelope)
def costs(request: Request, rt: RuntimeDep, account: AccountDep):
    granted, remaining = rt.service.balance(account)
    data = costs_data(
        granted=format_credits(granted),
        remaining=format_credits(remaining),
        created_at=account.created_at,
        now=now_ms(),
    )
    return ok(data, request)
