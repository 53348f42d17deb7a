"""Kling's 2026 wire format ("new design standard"): the model in the path, ``prompt`` or
``contents[]`` with ``settings{}`` and ``options{}``, one ``/tasks`` query, the task record with
``outputs[]`` and ``billing[]``. Request models, parsers and presenters; no HTTP here."""

from .parse import (
    ImageLoader,
    model_entry,
    parse_image_to_video,
    parse_omni_video,
    parse_text_to_video,
)
from .present import (
    STATUS_2026,
    Billing,
    CreatedRecord,
    TaskPage,
    TaskRecord,
    VideoOutput,
    created_record,
    probe_body,
    task_record,
)
from .query import Batch, PageQuery, encode_cursor, parse_batch, parse_page
from .requests import (
    ImageToVideoRequest,
    OmniVideoRequest,
    TaskQueryRequest,
    TextToVideoRequest,
    validate,
)
from .shots import is_multi_shot, parse_prompt_shots

__all__ = [
    "STATUS_2026",
    "Batch",
    "Billing",
    "CreatedRecord",
    "ImageLoader",
    "ImageToVideoRequest",
    "OmniVideoRequest",
    "PageQuery",
    "TaskPage",
    "TaskQueryRequest",
    "TaskRecord",
    "TextToVideoRequest",
    "VideoOutput",
    "created_record",
    "encode_cursor",
    "is_multi_shot",
    "model_entry",
    "parse_batch",
    "parse_image_to_video",
    "parse_omni_video",
    "parse_page",
    "parse_prompt_shots",
    "parse_text_to_video",
    "probe_body",
    "task_record",
    "validate",
]
