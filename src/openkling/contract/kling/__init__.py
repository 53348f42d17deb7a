"""The Kling wire format: request parsers with Kling's rules, response models, the envelope."""

from ...domain.request import CameraConfig, CameraControl, GenerationRequest
from ...domain.vocabulary import ASPECT_RATIOS, CAMERA_AXES, CAMERA_TYPES
from ..fields import MAX_EXTERNAL_ID, MAX_PROMPT, MAX_URL
from .costs import CostsQuery, costs_data, parse_costs_query
from .responses import (
    TaskPublic,
    TaskResultPublic,
    VideoPublic,
    WireStatus,
    failure,
    format_duration,
    success,
)
from .text2video import parse_text2video

__all__ = [
    "ASPECT_RATIOS",
    "CAMERA_AXES",
    "CAMERA_TYPES",
    "MAX_EXTERNAL_ID",
    "MAX_PROMPT",
    "MAX_URL",
    "CameraConfig",
    "CameraControl",
    "GenerationRequest",
    "TaskPublic",
    "TaskResultPublic",
    "VideoPublic",
    "WireStatus",
    "CostsQuery",
    "costs_data",
    "failure",
    "format_duration",
    "parse_costs_query",
    "parse_text2video",
    "success",
]
