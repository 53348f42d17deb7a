"""The synchronous client, ``Kling``. ``_async.py`` is its mirror image; keep them in step."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from ._base import (
    COSTS_PATH,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    EFFECT_SCENES_PATH,
    EFFECTS_PATH,
    IMAGE2VIDEO_PATH,
    MULTI_IMAGE2VIDEO_PATH,
    TEXT2VIDEO_PATH,
    TRANSPORT_ERRORS,
    VIDEO_EXTEND_PATH,
    ClientConfig,
    DownloadProgress,
    RetryPolicy,
    SseDecoder,
    api_error,
    costs_params,
    create_body,
    effects_body,
    event_task,
    events_timeout,
    image2video_body,
    json_or_none,
    multi_image2video_body,
    offers_events,
    parse_envelope,
    poll_step,
    stream_verdict,
    task_from_data,
    translate_transport,
    video_extend_body,
)
from ._download import (
    check_complete,
    part_path,
    plan_download,
    range_headers,
)
from ._sync2026 import ImageToVideo, OmniVideo, Tasks, TextToVideo
from ._tasks_sync import _VideoTasks
from .errors import APIConnectionError, KlingError
from .types import Costs, ImageLike, Shot, Task


class Kling:
    """A client for the Kling video API (the official service or openkling).

    Credentials come from the arguments or ``KLING_ACCESS_KEY`` / ``KLING_SECRET_KEY`` (a JWT is
    signed with them) or ``KLING_API_KEY`` (sent as is); the base URL from ``base_url`` or
    ``KLING_BASE_URL``, default ``https://api-singapore.klingai.com``.
    """

    def __init__(
        self,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._config = ClientConfig.resolve(
            access_key=access_key,
            secret_key=secret_key,
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
        )
        self._owns_http = http_client is None
        self._events = offers_events(self._config.base_url)  # False once a server has none
        self._http = http_client or httpx.Client(timeout=timeout)
        self.text2video = Text2Video(self)
        self.image2video = Image2Video(self)
        self.video_extend = VideoExtend(self)
        self.multi_image2video = MultiImage2Video(self)
        self.effects = Effects(self)
        from ._images import Images  # (built on this module's task endpoints)

        self.images = Images(self)
        self.account = Account(self)
        # Kling's 2026 API: the model in the path, one /tasks query
        self.text_to_video = TextToVideo(self)
        self.image_to_video = ImageToVideo(self)
        self.omni_video = OmniVideo(self)
        self.tasks = Tasks(self)

    @property
    def base_url(self) -> str:
        return self._config.base_url

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Kling:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request(
        self, method: str, path: str, *, params: dict | None = None, json: Any = None
    ) -> Any:
        """One API call with the envelope unwrapped; GETs are retried on transient errors."""
        url = self._config.url(path)
        attempt = 0
        while True:
            try:
                try:
                    response = self._http.request(
                        method, url, params=params, json=json, headers=self._config.headers()
                    )
                except TRANSPORT_ERRORS as exc:
                    raise translate_transport(exc, url) from exc
                return parse_envelope(response)
            except KlingError as error:
                delay = self._config.retry.delay(error, attempt, idempotent=method == "GET")
                if delay is None:
                    raise
            attempt += 1
            time.sleep(delay)

    def _download(self, url: str, target: Path, on_progress: DownloadProgress | None) -> Path:
        """Stream ``url`` into ``target.part``, resuming what is there; rename when complete."""
        target.parent.mkdir(parents=True, exist_ok=True)
        part = part_path(target)
        attempt, restarted = 0, False
        while True:
            try:
                if self._download_once(url, part, on_progress):
                    break
                if restarted:
                    raise APIConnectionError(f"download of {url} could not be started")
                restarted = True  # the server would not resume: one fresh start, not a retry
                continue
            except KlingError as error:
                delay = self._config.retry.delay(error, attempt, idempotent=True)
                if delay is None:
                    raise
            attempt += 1
            time.sleep(delay)
        os.replace(part, target)
        return target

    def _download_once(self, url: str, part: Path, on_progress: DownloadProgress | None) -> bool:
        """Fetch what is missing from ``part``; ``False`` when it had to be thrown away."""
        offset = part.stat().st_size if part.exists() else 0
        try:
            with self._http.stream(
                "GET", url, headers=range_headers(offset), follow_redirects=True
            ) as response:
                if response.status_code >= 400 and response.status_code != 416:
                    response.read()
                    raise api_error(response, json_or_none(response))
                plan = plan_download(response, offset)
                if plan is None:
                    part.unlink(missing_ok=True)
                    return False
                if plan.complete:
                    return True
                received = offset if plan.append else 0
                with open(part, "ab" if plan.append else "wb") as file:
                    for chunk in response.iter_bytes():
                        file.write(chunk)
                        received += len(chunk)
                        if on_progress is not None:
                            on_progress(received, plan.total)
                check_complete(received, plan.total, url)
                return True
        except TRANSPORT_ERRORS as exc:
            raise translate_transport(exc, url) from exc

    def _follow(
        self, path: str, *, deadline: float | None, timeout: float | None, on_progress
    ) -> Task | None:
        """Follow a task's event stream: the succeeded task, or ``None`` when the server offers
        no stream or it stops early (the caller polls). Raises as ``poll_step`` does."""
        url = self._config.url(path)
        headers = {**self._config.headers(), "Accept": "text/event-stream"}
        try:
            with self._http.stream(
                "GET", url, headers=headers, timeout=events_timeout(self._config.timeout, deadline)
            ) as response:
                body = None
                if response.status_code != 200:
                    response.read()
                    body = json_or_none(response)
                verdict = stream_verdict(response, body)
                if verdict != "stream":
                    self._events = verdict != "unsupported"
                    return None
                decoder = SseDecoder()
                for line in response.iter_lines():
                    event = decoder.feed(line)
                    task = event_task(event[1]) if event else None
                    if task is None:
                        continue
                    if on_progress is not None:
                        on_progress(task)
                    if poll_step(task, deadline=deadline, timeout=timeout, poll_interval=0) is None:
                        return task
        except TRANSPORT_ERRORS:
            return None  # a dropped or silent stream: polling takes over and keeps the deadline
        return None


class Text2Video(_VideoTasks):
    """``/v1/videos/text2video``: create, get, list, cancel, wait, download."""

    _path = TEXT2VIDEO_PATH

    def create(
        self,
        *,
        prompt: str,
        model_name: str | None = None,
        negative_prompt: str | None = None,
        duration: str | int | None = None,
        aspect_ratio: str | None = None,
        mode: str | None = None,
        cfg_scale: float | None = None,
        camera_control: dict[str, Any] | None = None,
        sound: str | bool | None = None,
        callback_url: str | None = None,
        external_task_id: str | None = None,
        multi_shot: bool | None = None,
        shot_type: str | None = None,
        multi_prompt: Sequence[Shot | dict[str, Any]] | None = None,
        watermark_info: bool | dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> Task:
        """Submit a task. Only the arguments given are sent; the server applies its defaults.

        ``multi_prompt`` (a list of ``Shot(prompt, duration)``) asks for a multi-shot video
        (kling-v3): ``multi_shot`` and ``shot_type="customize"`` are implied, and so is
        ``duration`` (the shots' sum). ``watermark_info=True`` asks for a watermarked copy
        (``Video.watermark_url``) too."""
        body = create_body(
            model_name=model_name,
            prompt=prompt,
            negative_prompt=negative_prompt,
            duration=duration,
            aspect_ratio=aspect_ratio,
            mode=mode,
            cfg_scale=cfg_scale,
            camera_control=camera_control,
            sound=sound,
            callback_url=callback_url,
            external_task_id=external_task_id,
            multi_shot=multi_shot,
            shot_type=shot_type,
            multi_prompt=multi_prompt,
            watermark_info=watermark_info,
        )
        body.update(extra_body or {})
        return task_from_data(self._client._request("POST", self._path, json=body))


class Image2Video(_VideoTasks):
    """``/v1/videos/image2video``: create from an image, get, list, cancel, wait, download."""

    _path = IMAGE2VIDEO_PATH

    def create(
        self,
        *,
        image: ImageLike | None = None,
        image_tail: ImageLike | None = None,
        prompt: str | None = None,
        model_name: str | None = None,
        negative_prompt: str | None = None,
        duration: str | int | None = None,
        mode: str | None = None,
        cfg_scale: float | None = None,
        camera_control: dict[str, Any] | None = None,
        static_mask: ImageLike | None = None,
        dynamic_masks: list[dict[str, Any]] | None = None,
        sound: str | bool | None = None,
        callback_url: str | None = None,
        external_task_id: str | None = None,
        watermark_info: bool | dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> Task:
        """Submit a task that animates ``image`` (and/or ends at ``image_tail``).

        An image is a path, bytes, a PIL image or an http(s) URL; files and pictures are sent
        as base64. A dynamic mask is ``{"mask": <image>, "trajectories": [{"x": .., "y": ..}]}``
        with points in image pixels from the bottom-left corner, as on Kling.
        """
        body = image2video_body(
            model_name=model_name,
            image=image,
            image_tail=image_tail,
            prompt=prompt,
            negative_prompt=negative_prompt,
            duration=duration,
            mode=mode,
            cfg_scale=cfg_scale,
            camera_control=camera_control,
            static_mask=static_mask,
            dynamic_masks=dynamic_masks,
            sound=sound,
            callback_url=callback_url,
            external_task_id=external_task_id,
            watermark_info=watermark_info,
        )
        body.update(extra_body or {})
        return task_from_data(self._client._request("POST", self._path, json=body))


class VideoExtend(_VideoTasks):
    """``/v1/videos/video-extend``: 5 more seconds of a finished video; the result is the
    whole video (``Task.parent_video`` names the one it continues)."""

    _path = VIDEO_EXTEND_PATH

    def create(
        self,
        *,
        video_id: str,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        cfg_scale: float | None = None,
        callback_url: str | None = None,
        external_task_id: str | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> Task:
        """Extend the video ``video_id`` (a ``Video.id`` of one of your succeeded tasks)."""
        body = video_extend_body(
            video_id,
            prompt=prompt,
            negative_prompt=negative_prompt,
            cfg_scale=cfg_scale,
            callback_url=callback_url,
            external_task_id=external_task_id,
        )
        body.update(extra_body or {})
        return task_from_data(self._client._request("POST", self._path, json=body))


class MultiImage2Video(_VideoTasks):
    """``/v1/videos/multi-image2video``: a video in which 1 to 4 reference pictures appear."""

    _path = MULTI_IMAGE2VIDEO_PATH

    def create(
        self,
        *,
        images: Sequence[ImageLike],
        prompt: str,
        model_name: str | None = None,
        negative_prompt: str | None = None,
        duration: str | int | None = None,
        aspect_ratio: str | None = None,
        mode: str | None = None,
        callback_url: str | None = None,
        external_task_id: str | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> Task:
        """Submit a task; each image is a path, bytes, a PIL image or an http(s) URL."""
        body = multi_image2video_body(
            images,
            prompt=prompt,
            model_name=model_name,
            negative_prompt=negative_prompt,
            duration=duration,
            aspect_ratio=aspect_ratio,
            mode=mode,
            callback_url=callback_url,
            external_task_id=external_task_id,
        )
        body.update(extra_body or {})
        return task_from_data(self._client._request("POST", self._path, json=body))


class Effects(_VideoTasks):
    """``/v1/videos/effects``: a scene (``zoom_out``, ``hug_pro``, ...) over one picture, or
    two side by side; ``scenes()`` lists what the server offers (openkling)."""

    _path = EFFECTS_PATH

    def create(
        self,
        *,
        effect_scene: str,
        images: ImageLike | Sequence[ImageLike],
        callback_url: str | None = None,
        external_task_id: str | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> Task:
        """One picture for a single-image scene, a list of two for a dual one (left, right)."""
        body = effects_body(
            effect_scene,
            images,
            callback_url=callback_url,
            external_task_id=external_task_id,
        )
        body.update(extra_body or {})
        return task_from_data(self._client._request("POST", self._path, json=body))

    def scenes(self) -> list[dict[str, Any]]:
        """The scenes this server offers, with their kind, duration and credits (openkling)."""
        data = self._client._request("GET", EFFECT_SCENES_PATH)
        return list(data) if isinstance(data, list) else []


class Account:
    """``/account/costs``: credit balance."""

    def __init__(self, client: Kling) -> None:
        self._client = client

    def costs(
        self,
        *,
        start_time: int | None = None,
        end_time: int | None = None,
        resource_pack_name: str | None = None,
    ) -> Costs:
        params = costs_params(start_time, end_time, resource_pack_name)
        return Costs.from_dict(self._client._request("GET", COSTS_PATH, params=params) or {})
