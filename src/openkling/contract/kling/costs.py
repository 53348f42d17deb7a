"""Kling's ``GET /account/costs``: its query (time window, pack name) and its resource packs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..fields import _bad

PACK_NAME = "openkling credits"
PACK_ID = "openkling-credits"
# the credit pack never lapses; its end is fixed from the account's creation, so it reads the
# same on every call
PACK_LIFETIME_MS = 100 * 365 * 24 * 3600 * 1000
MAX_NAME = 256


@dataclass(frozen=True)
class CostsQuery:
    """Which packs to report: those in force at some time in [start_time, end_time] (ms),
    whose name contains ``resource_pack_name`` (any case). ``None`` leaves a bound open."""

    start_time: int | None = None
    end_time: int | None = None
    resource_pack_name: str | None = None

    def admits(self, pack: Mapping[str, Any]) -> bool:
        if self.start_time is not None and pack["invalid_time"] < self.start_time:
            return False
        if self.end_time is not None and pack["effective_time"] > self.end_time:
            return False
        wanted = (self.resource_pack_name or "").casefold()
        return wanted in str(pack["resource_pack_name"]).casefold()


def _millis(params: Mapping[str, str], field: str) -> int | None:
    raw = params.get(field)
    if raw is None or raw == "":
        return None
    text = raw.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdecimal()) or len(digits) > 15:
        raise _bad(field, f"must be an integer Unix time in milliseconds, got {raw!r}")
    value = int(text)
    if value < 0:
        raise _bad(field, f"must be a Unix time in milliseconds (0 or more), got {raw!r}")
    return value


def parse_costs_query(params: Mapping[str, str]) -> CostsQuery:
    """Validate the query string of ``/account/costs``; raise ``InvalidParameter`` (1201)."""
    start, end = _millis(params, "start_time"), _millis(params, "end_time")
    if start is not None and end is not None and start > end:
        raise _bad("start_time", f"must not be after end_time ({start} > {end})")
    name = params.get("resource_pack_name")
    if name is not None and len(name) > MAX_NAME:
        raise _bad("resource_pack_name", f"must be at most {MAX_NAME} characters")
    return CostsQuery(start, end, name or None)


def costs_data(
    *, granted: str, remaining: str, created_at: int, query: CostsQuery | None = None
) -> dict[str, Any]:
    """``GET /account/costs`` data in the official shape: the account's one credit pack (when
    ``query`` admits it), plus ``balance`` (the remaining credits, an openkling extension)."""
    pack = {
        "resource_pack_name": PACK_NAME,
        "resource_pack_id": PACK_ID,
        "resource_pack_type": "decreasing_total",
        "total_quantity": float(granted),
        "remaining_quantity": float(remaining),
        "purchase_time": created_at,
        "effective_time": created_at,
        "invalid_time": created_at + PACK_LIFETIME_MS,
        "status": "online",
    }
    packs = [pack] if (query or CostsQuery()).admits(pack) else []
    return {
        "code": 0,
        "msg": "",
        "balance": float(remaining),
        "resource_pack_subscribe_infos": packs,
    }
