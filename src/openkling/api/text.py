"""Text a request carries that no field allows: NUL, the other control characters and lone
surrogates. None of it is ever meaningful, and PostgreSQL cannot store NUL (nor UTF-8 hold a
lone surrogate), so it is refused once, where it enters: the path, query and headers at the
edge (api/edge.py), JSON bodies and form fields where they are read, JWT claims in api/auth.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote_to_bytes

# in any string a client sends: C0 controls but tab, line feed and carriage return, DEL,
# and the surrogate halves that a JSON \\u escape can produce alone
_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# in a path, a query or a header value: no control character at all (tab only in headers)
_IN_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_IN_HEADER = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def describe(char: str) -> str:
    """'NUL (U+0000)', 'a control character (U+001B)', 'a lone surrogate (U+D800)'."""
    code = ord(char)
    if code == 0:
        return "NUL (U+0000)"
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate (U+{code:04X})"
    return f"a control character (U+{code:04X})"


def bad_char(text: str, *, line: bool = False) -> str | None:
    """The first character of ``text`` no field allows, or None. ``line``: no line breaks
    or tabs either (paths and queries)."""
    found = (_IN_LINE if line else _IN_TEXT).search(text)
    return found.group() if found else None


def path_problem(path: str, query: bytes) -> str | None:
    """What is wrong with a request's (decoded) path or (raw) query string, or None."""
    char = bad_char(path, line=True)
    if char is not None:
        return f"the URL path holds {describe(char)}, which no path allows"
    if query:
        decoded = unquote_to_bytes(query.replace(b"+", b" ")).decode("utf-8", "surrogateescape")
        for part in decoded.split("&"):
            name = part.split("=", 1)[0]
            char = bad_char(part, line=True)
            if char is not None:
                shown = bad_char(name, line=True) is None and name
                where = f"the query parameter {shown!r}" if shown else "the query string"
                return f"{where} holds {describe(char)}, which no parameter allows"
    return None


def header_problem(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str, str] | None:
    """(header name, what is wrong) for the first header value holding a control character."""
    for name, value in headers:
        found = _IN_HEADER.search(value)
        if found is not None:
            char = chr(found.group()[0])
            header = name.decode("latin-1", "replace")
            return header, f"the {header} header holds {describe(char)}, which no header allows"
    return None


def body_problem(value: object, where: str = "") -> str | None:
    """What is wrong with a parsed JSON body (keys and string values, at any depth), or None."""
    if isinstance(value, str):
        char = bad_char(value)
        if char is not None:
            field = f"{where}: holds" if where else "the body holds"
            return f"{field} {describe(char)}, which no field allows"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            field = f"{where}.{key}" if where else str(key)
            char = bad_char(str(key))
            if char is not None:
                return f"a field name holds {describe(char)}, which no field allows"
            problem = body_problem(item, field)
            if problem is not None:
                return problem
        return None
    if isinstance(value, list):
        for i, item in enumerate(value):
            problem = body_problem(item, f"{where}[{i}]")
            if problem is not None:
                return problem
    return None
