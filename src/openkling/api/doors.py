"""Which door a path belongs to, where two doors share a prefix: its errors, found or not,
answer in that door's envelope.

``/v1/videos`` is shared by Kling's video API and OpenAI's. The rule, on the first path
segment after ``/v1/videos/``:

* ``/v1/videos`` itself (OpenAI's create and list) is OpenAI's, also written ``/v1/videos/``;
* a segment of the form of an OpenAI video id, ``video_...`` (ours or not), and whatever
  follows it, is OpenAI's (the OpenAI routes are ``/v1/videos/video_{id}...``: they match no
  other name);
* OpenAI's own named endpoints that openkling does not offer (``edits``, ``extensions``,
  ``characters``) are OpenAI's;
* every other segment is Kling's: its families (``text2video``, ``image2video``,
  ``video-extend``, ``multi-image2video``, ``effects``) and any name openkling does not serve
  (``lip-sync``, ...),
  so that a Kling client always gets Kling's ``{"code": 1202, ...}``, never OpenAI's shape.

Every path outside ``/v1/videos`` is Kling's.
"""

from __future__ import annotations

from ..contract.openai.ids import is_video_id

SHARED_PREFIX = "/v1/videos"
# OpenAI's video endpoints with a name of their own (served or answered "not offered")
OPENAI_NAMES = ("edits", "extensions", "characters")


def speaks_openai(path: str) -> bool:
    """Whether ``path`` (or a path template of the OpenAPI document) is the OpenAI door's."""
    if path in (SHARED_PREFIX, SHARED_PREFIX + "/"):
        return True
    if not path.startswith(SHARED_PREFIX + "/"):
        return False
    segment = path[len(SHARED_PREFIX) + 1 :].split("/", 1)[0]
    return is_video_id(segment) or segment in OPENAI_NAMES
