"""Kling's multi-shot fields (multi_shot, shot_type, multi_prompt) and the intelligence split.

``shot_type: "customize"`` takes the caller's ``multi_prompt``: 1 to 6 shots of
``{index, prompt, duration}``, each prompt at most 512 characters, each duration a whole
number of seconds from 1 to the task's duration, all durations adding up to the task's.

``shot_type: "intelligence"`` splits the one ``prompt`` by this rule (``split_prompt``):

1. Cut the prompt after each sentence end (``.``, ``!``, ``?`` or ``;`` followed by a space)
   and at each ``", then"``, ``", and then"`` or ``" and then"`` (the joining words are
   dropped, as is a ``"Then"`` opening a sentence); empty pieces are dropped.
2. While there are more pieces than ``min(6, duration)``, join the adjacent pair whose joined
   length is smallest (the earlier pair on a tie).
3. Each shot gets one second, and the seconds left are shared in proportion to the pieces'
   lengths by largest remainder (the earlier shot on a tie): whole seconds, summing to the
   task's duration.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from ...domain.catalog import Catalog, ModelEntry
from ...domain.request import Shot
from ..fields import _bad, _type_name

MAX_SHOTS = 6
MAX_SHOT_PROMPT = 512
SHOT_TYPES = ("customize", "intelligence")

# a sentence end followed by space, or a clause-opening "then" (after a comma, a semicolon or
# "and"), the split point kept out of both neighbours
_SPLIT = re.compile(r"(?<=[.!?;])\s+|\s*,\s*(?:and\s+)?then\s+|\s+and\s+then\s+", re.IGNORECASE)
_LEADING_THEN = re.compile(r"^(?:and\s+)?then\s+", re.IGNORECASE)


def split_prompt(prompt: str, duration: int) -> list[Shot]:
    """The ``intelligence`` rule: ``prompt`` as at most six timed shots (see the module)."""
    pieces = [p.strip() for p in _SPLIT.split(prompt.strip())]
    pieces = [_LEADING_THEN.sub("", p).strip() for p in pieces]
    pieces = [p for p in pieces if p] or [prompt.strip()]
    most = max(1, min(MAX_SHOTS, duration))
    while len(pieces) > most:
        joined = [len(pieces[i]) + len(pieces[i + 1]) for i in range(len(pieces) - 1)]
        i = joined.index(min(joined))
        pieces[i : i + 2] = [f"{pieces[i]} {pieces[i + 1]}"]
    seconds = _share(duration, [len(p) for p in pieces])
    return [Shot(prompt=p, duration=s) for p, s in zip(pieces, seconds, strict=True)]


def _share(total: int, weights: list[int]) -> list[int]:
    """``total`` whole seconds over ``weights``: one each, the rest by largest remainder."""
    spare = total - len(weights)
    weight_sum = sum(weights) or 1
    exact = [spare * w / weight_sum for w in weights]
    whole = [int(x) for x in exact]
    left = spare - sum(whole)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - whole[i]), i))
    for i in order[:left]:
        whole[i] += 1
    return [1 + w for w in whole]


def _shot_seconds(value: object, field: str, total: int) -> int:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdecimal():
        seconds = int(value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, float) and value.is_integer():
        seconds = int(value)
    else:
        raise _bad(field, f'must be a whole number of seconds such as "3", got {value!r}')
    if not 1 <= seconds <= total:
        raise _bad(field, f"must be from 1 to the task's duration ({total}), got {value!r}")
    return seconds


def _customize(value: object, duration: int) -> list[Shot]:
    if value is None:
        raise _bad("multi_prompt", 'is required when shot_type is "customize" (1 to 6 shots)')
    if not isinstance(value, list):
        raise _bad("multi_prompt", f"must be an array of shots, got {_type_name(value)}")
    if not 1 <= len(value) <= MAX_SHOTS:
        raise _bad("multi_prompt", f"must hold 1 to {MAX_SHOTS} shots, got {len(value)}")
    shots: list[tuple[int, Shot]] = []
    for n, item in enumerate(value):
        where = f"multi_prompt[{n}]"
        if not isinstance(item, dict):
            raise _bad(
                where, f"must be an object {{index, prompt, duration}}, got {_type_name(item)}"
            )
        index = item.get("index", n + 1)
        if isinstance(index, bool) or not isinstance(index, int):
            raise _bad(f"{where}.index", f"must be an integer, got {_type_name(index)}")
        prompt = item.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _bad(f"{where}.prompt", "is required and must be a non-empty string")
        if len(prompt) > MAX_SHOT_PROMPT:
            raise _bad(
                f"{where}.prompt",
                f"must be at most {MAX_SHOT_PROMPT} characters, got {len(prompt)}",
            )
        if "\x00" in prompt:
            raise _bad(f"{where}.prompt", "must not contain NUL characters")
        try:
            prompt.encode("utf-8")
        except UnicodeEncodeError:
            raise _bad(f"{where}.prompt", "must be valid Unicode text") from None
        if "duration" not in item:
            raise _bad(f"{where}.duration", 'is required (whole seconds, such as "3")')
        seconds = _shot_seconds(item["duration"], f"{where}.duration", duration)
        shots.append((index, Shot(prompt=prompt, duration=seconds)))
    indexes = [i for i, _ in shots]
    if len(set(indexes)) != len(indexes):
        raise _bad("multi_prompt", f"shot indexes must be distinct, got {indexes}")
    total = sum(int(s.duration) for _, s in shots)
    if total != duration:
        raise _bad(
            "multi_prompt",
            f"shot durations add up to {total} s but duration is {duration} s; they must be equal",
        )
    return [shot for _, shot in sorted(shots, key=lambda pair: pair[0])]


def multi_shot(value: object, entry: ModelEntry | None, catalog: Catalog) -> bool:
    """``multi_shot``: true asks for several shots, from a model that offers them."""
    if value is None or value is False:
        return False
    if not isinstance(value, bool):
        raise _bad("multi_shot", f"must be true or false, got {_type_name(value)}")
    if entry is not None and not entry.multi_shot:
        raise _bad(
            "multi_shot",
            f"model '{entry.name}' does not offer multi-shot videos; models that do: "
            f"{', '.join(catalog.supporting('multi_shot')) or 'none'}",
        )
    return True


def shot_type(value: object, multi: bool) -> str | None:
    """``shot_type``, required with ``multi_shot: true`` and ignored without it."""
    if not multi:
        return None
    if value is None:
        raise _bad("shot_type", f"is required when multi_shot is true: {', '.join(SHOT_TYPES)}")
    if not isinstance(value, str) or value not in SHOT_TYPES:
        raise _bad(
            "shot_type", f"{value!r} is not allowed; allowed values: {', '.join(SHOT_TYPES)}"
        )
    return value


def shots(kind: str | None, multi_prompt: object, prompt: str | None, duration: int) -> list[Shot]:
    """The shots of a request of ``shot_type`` ``kind`` (None: one shot, no list)."""
    if kind is None:
        return []
    if kind == "customize":
        return _customize(multi_prompt, duration)
    if prompt is None or not prompt.strip():
        raise _bad(
            "prompt", 'is required when shot_type is "intelligence" (it is split into shots)'
        )
    return split_prompt(prompt, duration)


class ShotPrompt(BaseModel):
    """The wire shape of one ``multi_prompt`` shot."""

    index: int
    prompt: str = Field(..., min_length=1, max_length=MAX_SHOT_PROMPT)
    duration: str | int = Field(..., description="whole seconds")
