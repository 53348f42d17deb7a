"""The words of the API, defined once: model names, modes, ratios, durations, camera axes."""

from __future__ import annotations

MODEL_NAMES = (
    "kling-v1",
    "kling-v1-5",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v2-6",
    "kling-v3",
)
DEFAULT_MODEL = "kling-v1"

ASPECT_RATIOS = ("16:9", "9:16", "1:1")
MODES = ("std", "pro")
# the seed's spellings are aliases of Kling's
MODE_ALIASES = {"std": "std", "pro": "pro", "standard": "std", "professional": "pro"}

CLASSIC_DURATIONS = (5, 10)
V3_DURATIONS = tuple(range(3, 16))

CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")

# which Kling door a task was made through; each door lists and finds only its own
FAMILIES = ("text2video", "image2video", "video-extend", "multi-image2video", "effects")
