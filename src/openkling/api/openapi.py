"""The OpenAPI document: each door's request model (the very model that reads its body,
``contract/model.py``), Kling's response models, the bearer scheme, and every error status
each operation can answer, each with its envelope.

A route names its body's model (``json_body`` or its own ``openapi_extra``); ``describe`` puts
every request model a route refers to in the document, and finishes the document for every
route, including routes added later: security and 401 where a route authenticates, and the
errors any request can meet (400 Host / body, 408 slow client, 500, 503), in place of FastAPI's
422, which openkling never sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from ..contract.kling import MAX_EXTERNAL_ID, TaskPublic
from ..contract.kling.costs import MAX_NAME as MAX_PACK_NAME
from ..contract.model import RequestModel
from .errors import HTTP_STATUS, shape_for

REF = "#/components/schemas/{model}"


# ---- responses -------------------------------------------------------------------------------


class ErrorEnvelope(BaseModel):
    """Every Kling error: no ``data``."""

    model_config = ConfigDict(extra="forbid")
    code: int = Field(..., description="Kling error code (README, error table)")
    message: str
    request_id: str


class _Success(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Literal[0]
    message: Literal["SUCCEED"]
    request_id: str


class TaskEnvelope(_Success):
    data: TaskPublic


class TaskListEnvelope(_Success):
    data: list[TaskPublic]


class ResourcePack(BaseModel):
    resource_pack_name: str
    resource_pack_id: str
    resource_pack_type: str
    total_quantity: float
    remaining_quantity: float
    purchase_time: int
    effective_time: int
    invalid_time: int
    status: str


class Costs(BaseModel):
    code: int
    msg: str
    balance: float = Field(..., description="remaining credits (beyond Kling)")
    resource_pack_subscribe_infos: list[ResourcePack]


class CostsEnvelope(_Success):
    data: Costs


class Health(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["ok"]


class Readiness(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "error"]]


# ---- parameters and per-route errors -----------------------------------------------------


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


EXTERNAL_ID = query(
    "external_task_id",
    {"type": "string", "maxLength": MAX_EXTERNAL_ID},
    "the caller's own id of a task (instead of the task id)",
)
COSTS = [
    query("start_time", {"type": "integer"}, "packs in force at or after this time (ms)"),
    query("end_time", {"type": "integer"}, "packs in force at or before this time (ms)"),
    query(
        "resource_pack_name",
        {"type": "string", "maxLength": MAX_PACK_NAME},
        "packs whose name contains this (any case)",
    ),
]
PAGING = [
    query("pageNum", {"type": "integer", "minimum": 1, "maximum": 1000}, "page, from 1"),
    query("pageSize", {"type": "integer", "minimum": 1, "maximum": 500}, "tasks per page"),
]


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads this JSON body itself."""
    ref = {"$ref": REF.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses`` for statuses a route answers beyond the ones every route can."""
    return {status: {"model": ErrorEnvelope, "description": _WHY[status]} for status in statuses}


_WHY = {
    400: "malformed request, invalid parameter, Host not served, body too large (1200, 1201, 1301)",
    401: "authentication failed (1000-1004)",
    402: "not enough credits (1102)",
    403: "no permission (1103), or a media URL that is invalid or expired (1000)",
    404: "no such task or file (1203)",
    405: "method not allowed (1202); the Allow header lists the methods",
    408: "the request's headers or body did not arrive in time (1200)",
    429: "rate limit (1302) or too many unfinished tasks (1303)",
    500: "internal error (5000)",
    503: "maintenance, shutting down, or too many open connections (5001)",
}
EVERY_ROUTE = (400, 408, 500, 503)


def _request_models() -> Iterator[type[RequestModel]]:
    """Every door's request model (every subclass of ``RequestModel`` imported)."""
    todo = list(RequestModel.__subclasses__())
    while todo:
        model = todo.pop()
        todo.extend(model.__subclasses__())
        yield model


def _referenced(doc: dict[str, Any]) -> set[str]:
    """The component names the request bodies of ``doc`` refer to."""
    names = set()
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                ref = media.get("schema", {}).get("$ref", "")
                if ref.startswith(REF.format(model="")):
                    names.add(ref.rsplit("/", 1)[1])
    return names


# ---- the document --------------------------------------------------------------------------


def describe(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, finished as the module docstring says; cached on the app."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    referenced = _referenced(doc)
    bodies = [model for model in _request_models() if model.__name__ in referenced]
    missing = referenced - set(schemas) - {model.__name__ for model in bodies}
    assert not missing, f"request bodies refer to models that are not request models: {missing}"
    models: list[type[BaseModel]] = [*bodies, ErrorEnvelope]
    for model in models:
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    assert set(HTTP_STATUS.values()) <= set(_WHY), "a status in api/errors.py is undocumented"
    for path, item in doc.get("paths", {}).items():
        error_ref = _error_schema(path, schemas)
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            wanted = EVERY_ROUTE + ((401,) if operation.get("security") else ())
            for status in wanted:
                responses.setdefault(str(status), _error_response(status, error_ref))
            for status, response in responses.items():
                if status.startswith(("4", "5")):  # every error is in the door's shape
                    response["content"] = {"application/json": {"schema": error_ref}}
    app.openapi_schema = doc
    return doc


def _error_schema(path: str, schemas: dict[str, Any]) -> dict[str, Any]:
    """The error body of the door serving ``path`` (api/errors.py, ERROR_SHAPES)."""
    shape = shape_for(path)
    if shape is None:
        return {"$ref": REF.format(model="ErrorEnvelope")}
    schema = shape.model.model_json_schema(ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    schemas[shape.model.__name__] = schema
    return {"$ref": REF.format(model=shape.model.__name__)}


def _error_response(status: int, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": _WHY[status], "content": {"application/json": {"schema": schema}}}


def install(app: FastAPI) -> None:
    app.openapi = lambda: describe(app)  # type: ignore[method-assign]
