"""Reading a JSON request body: a clear 400 / 1200 for every way it can be wrong."""

from __future__ import annotations

import json

from fastapi import Request

from ..errors import InvalidParameter, MalformedRequest
from .text import body_problem


def _no_constants(name: str) -> object:
    raise ValueError(name)


async def json_body(request: Request, limit: int) -> object:
    """The parsed body. The edge (api/edge.py) has already stopped an oversized body while it
    streamed in; the check here covers apps built without it."""
    raw = await request.body()
    if len(raw) > limit:
        raise MalformedRequest(f"request body is larger than {limit} bytes")
    if not raw.strip():
        raise MalformedRequest("request body is empty; send a JSON object")
    try:
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")  # as json.loads(bytes)
    except UnicodeDecodeError as exc:
        raise MalformedRequest(
            f"request body is not valid JSON: byte {exc.start} is not UTF-8 text"
        ) from None
    try:
        parsed = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise MalformedRequest("request body is not valid JSON: it is nested too deeply") from None
    except json.JSONDecodeError as exc:  # where, in the client's terms; not the parser's words
        raise MalformedRequest(
            f"request body is not valid JSON: syntax error at line {exc.lineno}, column {exc.colno}"
        ) from None
    except ValueError as exc:  # NaN / Infinity, which JSON does not have
        raise MalformedRequest(
            f"request body is not valid JSON: {exc.args[0]} is not a JSON value"
        ) from None
    problem = body_problem(parsed)  # NUL and the like: no field allows them (api/text.py)
    if problem is not None:  # a field's value: 1201, as the field's own check would say
        raise InvalidParameter(problem)
    return parsed
