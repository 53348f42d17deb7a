"""The asynchronous client, ``AsyncKling``: the mirror image of ``_sync.py``; keep them in step."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from ._async2026 import ImageToVideo, OmniVideo, Tasks, TextToVideo
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
from ._tasks_async import _AsyncVideoTasks, _maybe_await
from .errors import APIConnectionError, KlingError
from .types import Costs, ImageLike, Shot, Task


class AsyncKling:
    """An asyncio client for the Kling video API; the same surface as ``Kling``, awaited.

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
        http_client: httpx.AsyncClient | None = None,
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
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self.text2video = AsyncText2Video(self)
        self.image2video = AsyncImage2Video(self)
        self.video_extend = AsyncVideoExtend(self)
        self.multi_image2video = AsyncMultiImage2Video(self)
        self.effects = AsyncEffects(self)
        from ._images import AsyncImages  # (built on this module's task endpoints)

        self.images = AsyncImages(self)
        self.account = AsyncAccount(self)
        # Kling's 2026 API: the model in the path, one /tasks query
        self.text_to_video = TextToVideo(self)
        self.image_to_video = ImageToVideo(self)
        self.omni_video = OmniVideo(self)
        self.tasks = Tasks(self)

    @property
    def base_url(self) -> str:
        return self._config.base_url

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncKling:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _request(
        self, method: str, path: str, *, params: dict | None = None, json: Any = None
    ) -> Any:
        """One API call with the envelope unwrapped; GETs are retried on transient errors."""
        url = self._config.url(path)
        attempt = 0
        while True:
            try:
                try:
                    response = await self._http.request(
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
            await asyncio.sleep(delay)

    async def _download(self, url: str, target: Path, on_progress: DownloadProgress | None) -> Path:
        """Stream ``url`` into ``target.part``, resuming what is there; rename when complete."""
        target.parent.mkdir(parents=True, exist_ok=True)
        part = part_path(target)
        attempt, restarted = 0, False
        while True:
            try:
                if await self._download_once(url, part, on_progress):
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
            await asyncio.sleep(delay)
        os.replace(part, target)
        return target

    async def _download_once(
        self, url: str, part: Path, on_progress: DownloadProgress | None
    ) -> bool:
        """Fetch what is missing from ``part``; ``False`` when it had to be thrown away."""
        offset = part.stat().st_size if part.exists() else 0
        try:
            async with self._http.stream(
                "GET", url, headers=range_headers(offset), follow_redirects=True
            ) as response:
                if response.status_code >= 400 and response.status_code != 416:
                    await response.aread()
                    raise api_error(response, json_or_none(response))
                plan = plan_download(response, offset)
                if plan is None:
                    part.unlink(missing_ok=True)
                    return False
                if plan.complete:
                    return True
                received = offset if plan.append else 0
                with open(part, "ab" if plan.append else "wb") as file:
                    async for chunk in response.aiter_bytes():
                        file.write(chunk)
                        received += len(chunk)
                        if on_progress is not None:
                            on_progress(received, plan.total)
                check_complete(received, plan.total, url)
                return True
        except TRANSPORT_ERRORS as exc:
            raise translate_transport(exc, url) from exc

    async def _follow(
        self, path: str, *, deadline: float | None, timeout: float | None, on_progress
    ) -> Task | None:
        """Follow a task's event stream: the succeeded task, or ``None`` when the server offers
        no stream or it stops early (the caller polls). Raises as ``poll_step`` does."""
        url = self._config.url(path)
        headers = {**self._config.headers(), "Accept": "text/event-stream"}
        try:
            async with self._http.stream(
                "GET", url, headers=headers, timeout=events_timeout(self._config.timeout, deadline)
            ) as response:
                body = None
                if response.status_code != 200:
                    await response.aread()
                    body = json_or_none(response)
                verdict = stream_verdict(response, body)
                if verdict != "stream":
                    self._events = verdict != "unsupported"
                    return None
                decoder = SseDecoder()
                async for line in response.aiter_lines():
                    event = decoder.feed(line)
                    task = event_task(event[1]) if event else None
                    if task is None:
                        continue
                    if on_progress is not None:
                        await _maybe_await(on_progress(task))
                    if poll_step(task, deadline=deadline, timeout=timeout, poll_interval=0) is None:
                        return task
        except TRANSPORT_ERRORS:
            return None  # a dropped or silent stream: polling takes over and keeps the deadline
        return None


class AsyncText2Video(_AsyncVideoTasks):
    """``/v1/videos/text2video``: create, get, list, cancel, wait, download."""

    _path = TEXT2VIDEO_PATH

    async def create(
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
        return task_from_data(await self._client._request("POST", self._path, json=body))


class AsyncImage2Video(_AsyncVideoTasks):
    """``/v1/videos/image2video``: create from an image, get, list, cancel, wait, download."""

    _path = IMAGE2VIDEO_PATH

    async def create(
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
        return task_from_data(await self._client._request("POST", self._path, json=body))


class AsyncVideoExtend(_AsyncVideoTasks):
    """``/v1/videos/video-extend``: 5 more seconds of a finished video; the result is the
    whole video (``Task.parent_video`` names the one it continues)."""

    _path = VIDEO_EXTEND_PATH

    async def create(
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
        return task_from_data(await self._client._request("POST", self._path, json=body))


class AsyncMultiImage2Video(_AsyncVideoTasks):
    """``/v1/videos/multi-image2video``: a video in which 1 to 4 reference pictures appear."""

    _path = MULTI_IMAGE2VIDEO_PATH

    async def create(
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
        return task_from_data(await self._client._request("POST", self._path, json=body))


class AsyncEffects(_AsyncVideoTasks):
    """``/v1/videos/effects``: a scene (``zoom_out``, ``hug_pro``, ...) over one picture, or
    two side by side; ``scenes()`` lists what the server offers (openkling)."""

    _path = EFFECTS_PATH

    async def create(
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
        return task_from_data(await self._client._request("POST", self._path, json=body))

    async def scenes(self) -> list[dict[str, Any]]:
        """The scenes this server offers, with their kind, duration and credits (openkling)."""
        data = await self._client._request("GET", EFFECT_SCENES_PATH)
        return list(data) if isinstance(data, list) else []


class AsyncAccount:
    """``/account/costs``: credit balance."""

    def __init__(self, client: AsyncKling) -> None:
        self._client = client

    async def costs(
        self,
        *,
        start_time: int | None = None,
        end_time: int | None = None,
        resource_pack_name: str | None = None,
    ) -> Costs:
        params = costs_params(start_time, end_time, resource_pack_name)
        return Costs.from_dict(await self._client._request("GET", COSTS_PATH, params=params) or {})
