"""Kling's multi-shot prompt syntax (2026 API): ``shot n, m, words; shot n, m, words;``.

``n`` is the shot's number (1, 2, ... in order, at most 6 shots), ``m`` its length in whole
seconds (at least 1; all of them add up to the video's duration), ``words`` its prompt (at
most 512 characters). Shots are separated by half-width semicolons; a last one is optional.
A prompt that does not open with ``shot <n>,`` is one shot of the whole prompt.
"""

from __future__ import annotations

import re

from ...domain.request import Shot
from ..fields import _bad

MAX_SHOTS = 6
MAX_SHOT_WORDS = 512

_OPENS = re.compile(r"^\s*shot\s*\d+\s*,", re.IGNORECASE)
_SHOT = re.compile(r"^\s*shot\s*(\d+)\s*,\s*(\d+)\s*s?\s*,\s*(.*?)\s*$", re.IGNORECASE | re.DOTALL)
FORMAT = '"shot n, m, words; shot n, m, words;"'


def is_multi_shot(prompt: str) -> bool:
    """Whether ``prompt`` is written in the multi-shot syntax (it opens with ``shot <n>,``)."""
    return bool(_OPENS.match(prompt))


def parse_prompt_shots(prompt: str, duration: int, field: str = "prompt") -> list[Shot]:
    """The shots of a prompt in the multi-shot syntax, checked against ``duration``."""
    pieces = [p for p in prompt.split(";") if p.strip()]
    if len(pieces) > MAX_SHOTS:
        raise _bad(field, f"at most {MAX_SHOTS} shots, got {len(pieces)} (format {FORMAT})")
    shots = []
    for i, piece in enumerate(pieces, start=1):
        match = _SHOT.match(piece)
        if match is None:
            raise _bad(
                field,
                f"shot {i} is not 'shot {i}, <seconds>, <words>': {piece.strip()[:60]!r} "
                f"(format {FORMAT})",
            )
        number, seconds, words = int(match.group(1)), int(match.group(2)), match.group(3)
        if number != i:
            raise _bad(
                field, f"shots are numbered 1, 2, ... in order; shot {i} is numbered {number}"
            )
        if seconds < 1:
            raise _bad(field, f"shot {i} lasts {seconds} s; each shot lasts at least 1 s")
        if not words:
            raise _bad(field, f"shot {i} has no words (format {FORMAT})")
        if len(words) > MAX_SHOT_WORDS:
            raise _bad(
                field,
                f"shot {i}'s words are {len(words)} characters; at most {MAX_SHOT_WORDS}",
            )
        shots.append(Shot(prompt=words, duration=seconds))
    total = sum(int(s.duration) for s in shots)
    if total != duration:
        raise _bad(
            field,
            f"the shots last {total} s but settings.duration is {duration} s; they must be equal",
        )
    return shots
