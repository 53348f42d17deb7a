"""Official Kling fields this deployment does not offer: refused with 1201, never ignored.

Fields Kling itself does not know stay ignored, as Kling ignores them. A field listed here is
refused only when it asks for something: ``null``, ``""``, ``[]`` and ``{}`` ask nothing.
"""

from __future__ import annotations

from ..fields import _bad

# official text2video fields openkling does not implement, with what they are for
TEXT2VIDEO: dict[str, str] = {
    "voice_list": "custom voices for speech in the soundtrack",
}


def refuse_unoffered(body: dict, fields: dict[str, str]) -> None:
    """Raise ``InvalidParameter`` naming the first official field that asks for what this
    deployment does not offer."""
    for field, what in fields.items():
        value = body.get(field)
        if value is None or value in ("", [], {}):
            continue
        raise _bad(
            field,
            f"this deployment does not offer {field} ({what}); send the request without it",
        )
