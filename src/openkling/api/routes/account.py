"""/account/costs: the account's credit pack, filtered by the official query parameters."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...contract.kling import costs_data, parse_costs_query
from ...domain.catalog import format_credits
from ..context import ok
from ..deps import AccountDep, RuntimeDep
from ..openapi import COSTS, CostsEnvelope

router = APIRouter(tags=["account"])


@router.get(
    "/account/costs",
    summary="Credit balance",
    response_model=CostsEnvelope,
    openapi_extra={"parameters": COSTS},
)
def costs(request: Request, rt: RuntimeDep, account: AccountDep):
    """``start_time`` / ``end_time`` (ms) keep the packs in force in that window;
    ``resource_pack_name`` keeps those whose name contains it."""
    query = parse_costs_query(request.query_params)
    granted, remaining = rt.service.balance(account)
    data = costs_data(
        granted=format_credits(granted),
        remaining=format_credits(remaining),
        created_at=account.created_at,
        query=query,
    )
    return ok(data, request)
