"""Which door a path belongs to, where two doors share a prefix: its errors, found or not,
answer in that door's envelope.

``/v1/videos`` is shared by Kling's video API and OpenAI's. The rule, on the first path
segment after ``/v1/videos/``:

* ``/v1/videos`` itself (OpenAI's create and list) is OpenAI's, also written ``/v1/videos/``;
* a segment of the form of an OpenAI video id, ``video_...`` (ours or not), and whatever
  follows it, is OpenAI's; so is the document's ``{video_id}`` placeholder of such an id;
* OpenAI's own named endpoints that openkling does not offer (``edits``, ``extensions``,
  ``characters``) are OpenAI's;
* every other segment is Kling's: its families (``text2video``, ``image2video``) and any
  name openkling does not serve (``effects``, ``multi-image2video``, ``video-extend``, ...),
  so that a Kling client always gets Kling's ``{"code": 1202, ...}``, never OpenAI's shape.

Every path outside ``/v1/videos`` is Kling's.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from ..contract.openai.ids import is_video_id

SHARED_PREFIX = "/v1/videos"
# OpenAI's video endpoints with a name of their own (served or answered "not offered")
OPENAI_NAMES = ("edits", "extensions", "characters")
VIDEO_ID_PARAM = "{video_id}"


def speaks_openai(path: str) -> bool:
    """Whether ``path`` (or a path template of the OpenAPI document) is the OpenAI door's."""
    if path in (SHARED_PREFIX, SHARED_PREFIX + "/"):
        return True
    if not path.startswith(SHARED_PREFIX + "/"):
        return False
    segment = path[len(SHARED_PREFIX) + 1 :].split("/", 1)[0]
    return is_video_id(segment) or segment == VIDEO_ID_PARAM or segment in OPENAI_NAMES


class OpenAIVideoRoute(APIRoute):
    """A route of the OpenAI door: its ``{video_id}`` matches an OpenAI video id only, so a
    path such as ``/v1/videos/effects`` is never taken for a video and stays Kling's (no
    route matches it: Kling's 404)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE:
            params: dict[str, Any] = child.get("path_params", {})
            video_id = params.get("video_id")
            if isinstance(video_id, str) and not is_video_id(video_id):
                return Match.NONE, {}
        return match, child
