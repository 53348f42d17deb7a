"""Official Kling fields this deployment does not offer: refused with 1201, never ignored.

Fields Kling itself does not know stay ignored, as Kling ignores them. A field listed here is
refused only when it asks for something: ``null``, ``""``, ``[]`` and ``{}`` ask nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic_core.core_schema import ValidationInfo

from ..fields import _bad
from ..model import Reads

# official text2video fields openkling does not implement, with what they are for
TEXT2VIDEO: dict[str, str] = {
    "voice_list": "custom voices for speech in the soundtrack",
}


def _asks_nothing(value: object) -> bool:
    return value is None or value in ("", [], {})


def _refusal(field: str, what: str) -> Exception:
    return _bad(
        field, f"this deployment does not offer {field} ({what}); send the request without it"
    )


def unoffered(what: str) -> Reads:
    """A model field for an official field this deployment does not offer (read as None)."""

    def read(value: Any, field: str, info: ValidationInfo) -> None:
        if _asks_nothing(value):
            return None
        raise _refusal(field, what)

    return Reads(read, wire=Any)
