"""One request model per door: a pydantic model that both validates a body with openkling's
rules, in openkling's words, and documents it in the OpenAPI document.

A door's model declares each wire field once, in the order its rules are checked::

    prompt: Annotated[str | None, Reads(read_prompt, wire=Annotated[str, Field(max_length=2500)])]

* the Python type (``str | None``) is the field's value once read, in openkling's terms;
* ``read(value, field, info)`` checks the wire value and returns that value, raising
  ``InvalidParameter`` whose message names the field and what is allowed (``info.context``
  carries what the rules need, e.g. the deployment's catalog; ``info.data`` the fields read
  before this one);
* ``wire`` is the type the body carries, as the OpenAPI document shows it (enums, bounds).

``validate`` runs a model over a body and, when it is refused, ``translate`` turns the first
refusal (in declaration order) into ``InvalidParameter``: a reader's own message as written,
or for an error pydantic raised itself, the field and the rule in openkling's words.
Pydantic's own text never reaches a client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, ValidationError
from pydantic_core import PydanticCustomError, core_schema

from ..errors import InvalidParameter

__all__ = [
    "REFUSED",
    "Reads",
    "RequestModel",
    "field_path",
    "message_of",
    "refusal",
    "translate",
    "validate",
]

REFUSED = "openkling"  # the pydantic error type of a refusal written by a reader

# (wire value, field name, validation info) -> the field's value in openkling's terms
Reader = Callable[[Any, str, core_schema.ValidationInfo], Any]


def refusal(exc: InvalidParameter) -> PydanticCustomError:
    """A reader's refusal as a pydantic error that keeps its message and its field."""
    return PydanticCustomError(REFUSED, "{message}", {"message": exc.message, "param": exc.param})


@dataclass(frozen=True)
class Reads:
    """``Annotated`` metadata of a request field: how it is read, and what the wire carries."""

    read: Reader
    wire: Any

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        read = self.read

        def validate(value: Any, info: core_schema.ValidationInfo) -> Any:
            try:
                return read(value, info.field_name or "", info)
            except InvalidParameter as exc:
                raise refusal(exc) from None

        return core_schema.with_info_plain_validator_function(
            validate, json_schema_input_schema=handler.generate_schema(self.wire)
        )


def _document(schema: dict[str, Any], cls: type) -> None:
    """The model's JSON schema as the wire reads: no ``default: null`` (absent is the
    default), and the fields the wire requires even where a rule across fields decides."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]
    required: Sequence[str] = getattr(cls, "wire_required", ())
    if required:
        schema["required"] = list(required)


class RequestModel(BaseModel):
    """Base of every door's request model (see the module docstring). Fields the wire does
    not know are ignored unless a door's config says otherwise."""

    model_config = ConfigDict(extra="ignore", frozen=True, json_schema_extra=_document)

    # documented as required, though a rule across fields checks them (e.g. Kling's prompt,
    # which customised multi-shot requests may leave out)
    wire_required: ClassVar[tuple[str, ...]] = ()


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], body: object, context: object = None) -> M:
    """``body`` read by ``model``; raise ``InvalidParameter`` (1201) naming the first field
    at fault, in openkling's words."""
    try:
        return model.model_validate(body, context=context)
    except ValidationError as exc:
        raise translate(exc) from None


def translate(exc: ValidationError) -> InvalidParameter:
    """The one translation of a pydantic ``ValidationError`` into openkling's error."""
    errors = exc.errors(include_url=False, include_input=False)
    first: Mapping[str, Any] = errors[0] if errors else {}
    ctx = first.get("ctx") or {}
    if first.get("type") == REFUSED:
        return InvalidParameter(str(ctx["message"]), param=ctx.get("param"))
    field = field_path(first.get("loc", ()))
    return InvalidParameter(f"{field}: {_rule(first)}", param=field)


def message_of(error: Mapping[str, Any], *, skip: int = 0) -> str:
    """``field: rule`` for one pydantic error (``skip`` leading parts of its location, e.g.
    FastAPI's "body" or "query")."""
    if error.get("type") == REFUSED:
        return str((error.get("ctx") or {})["message"])
    return f"{field_path(tuple(error.get('loc', ()))[skip:])}: {_rule(error)}"


def field_path(loc: Sequence[int | str]) -> str:
    """A pydantic location as a field name: ``a.0.b``; the whole request when empty."""
    return ".".join(str(part) for part in loc) or "request"


def _allowed(expected: object) -> str:
    return str(expected).replace("'", "")


# pydantic's error types, told in openkling's words (the rule, after "field: ")
_RULES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "missing": lambda c: "is required",
    "int_parsing": lambda c: "must be an integer",
    "int_type": lambda c: "must be an integer",
    "int_from_float": lambda c: "must be an integer",
    "float_parsing": lambda c: "must be a number",
    "float_type": lambda c: "must be a number",
    "finite_number": lambda c: "must be a finite number",
    "bool_parsing": lambda c: "must be true or false",
    "bool_type": lambda c: "must be true or false",
    "string_type": lambda c: "must be a string",
    "string_too_long": lambda c: (
        f"must be at most {c['max_length']} characters" if "max_length" in c else "is too long"
    ),
    "string_too_short": lambda c: (
        f"must be at least {c['min_length']} characters" if "min_length" in c else "is too short"
    ),
    "too_long": lambda c: (
        f"must have at most {c['max_length']} items" if "max_length" in c else "has too many items"
    ),
    "too_short": lambda c: (
        f"must have at least {c['min_length']} items" if "min_length" in c else "has too few items"
    ),
    "greater_than_equal": lambda c: f"must be at least {c['ge']}" if "ge" in c else "is too small",
    "less_than_equal": lambda c: f"must be at most {c['le']}" if "le" in c else "is too large",
    "literal_error": lambda c: (
        f"is not allowed; allowed values: {_allowed(c['expected'])}"
        if "expected" in c
        else "is not one of the allowed values"
    ),
    "enum": lambda c: "is not one of the allowed values",
    "json_invalid": lambda c: "is not valid JSON",
    "model_type": lambda c: "must be a JSON object",
    "model_attributes_type": lambda c: "must be a JSON object",
    "dict_type": lambda c: "must be a JSON object",
    "list_type": lambda c: "must be a list",
    "extra_forbidden": lambda c: "unknown parameter",
}


def _rule(error: Mapping[str, Any]) -> str:
    words = _RULES.get(str(error.get("type", "")))
    if words is None:
        return "is not valid"
    try:
        return words(error.get("ctx") or {})
    except (KeyError, TypeError):
        return "is not valid"
