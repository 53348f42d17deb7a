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

# ---- image generation (/v1/images/generations): a family and a model namespace of its own ----
IMAGE_FAMILY = "images"
IMAGE_MODEL_NAMES = ("kling-v1", "kling-v1-5", "kling-v2", "kling-v2-new", "kling-v2-1", "kling-v3")
DEFAULT_IMAGE_MODEL = "kling-v1"
IMAGE_ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9")
IMAGE_RESOLUTIONS = ("1k", "2k")
IMAGE_REFERENCES = ("subject", "face")
MAX_IMAGES = 9  # n: 1 to 9 images per task
# Kling's 2026 API ("new design standard"): the model sits in the path, e.g.
# POST /text-to-video/kling-3.0; its tasks are read through /tasks.
MODELS_2026 = (
    "kling-2.5-turbo",
    "kling-2.6",
    "kling-3.0",
    "kling-3.0-turbo",
    "kling-3.0-omni",
    "kling-o1",
)
# every model name a deployment profile may map to an engine
ALL_MODEL_NAMES = MODEL_NAMES + MODELS_2026
# the 2026 endpoints, also the family stored on their tasks; /tasks reads these alone
FAMILIES_2026 = ("text-to-video", "image-to-video", "omni-video")
RESOLUTIONS = ("720p", "1080p", "4k")
# a resolution is made at the engine's size for a mode (the profile's std and pro tables):
# Kling's std is its 720p, pro its 1080p; a resolution with no mode here is not made
RESOLUTION_MODES = {"720p": "std", "1080p": "pro"}
AUDIO_SETTINGS = ("native", "original", "off")
