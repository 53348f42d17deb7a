"""The synchronous client, ``Kling``. ``_async.py`` is its mirror image; keep them in step."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from ._base import (
    COSTS_PATH,
    DEFAULT_MAX_RETRIES,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT_TIMEOUT,
    IMAGE2VIDEO_PATH,
    TEXT2VIDEO_PATH,
    TRANSPORT_ERRORS,
    ClientConfig,
    DownloadProgress,
    ProgressCallback,
    RetryPolicy,
    SseDecoder,
    api_error,
    costs_params,
    create_body,
    event_task,
    events_path,
    events_timeout,
    image2video_body,
    json_or_none,
    offers_events,
    parse_envelope,
    pick_external,
    poll_step,
    stream_verdict,
    task_from_data,
    task_path,
    tasks_from_data,
    translate_transport,
)
from ._download import (
    check_complete,
    download_source,
    part_path,
    plan_download,
    range_headers,
    target_path,
    video_url,
)
from ._sync2026 import ImageToVideo, OmniVideo, Tasks, TextToVideo
from .errors import APIConnectionError, InvalidRequestError, KlingError
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


class _VideoTasks:
    """One family's task endpoints: get, list, cancel, wait, download."""

    _path = TEXT2VIDEO_PATH
    create: Callable[..., Task]  # each family's own parameters

    def __init__(self, client: Kling) -> None:
        self._client = client

    def get(self, task_id: str | None = None, *, external_task_id: str | None = None) -> Task:
        """One task, by ``task_id`` or by your ``external_task_id``."""
        if (task_id is None) == (external_task_id is None):
            raise InvalidRequestError("give exactly one of task_id and external_task_id")
        if external_task_id is not None:
            data = self._client._request(
                "GET", self._path, params={"external_task_id": external_task_id}
            )
            return pick_external(data, external_task_id)
        return task_from_data(self._client._request("GET", task_path(task_id, self._path)))

    def list(self, page: int = 1, page_size: int = 30) -> list[Task]:
        """One page of tasks, newest first."""
        data = self._client._request(
            "GET", self._path, params={"pageNum": page, "pageSize": page_size}
        )
        return tasks_from_data(data)

    def iter_all(self, *, page_size: int = 100) -> Iterator[Task]:
        """Every task, newest first, fetching pages as needed."""
        page = 1
        while True:
            tasks = self.list(page=page, page_size=page_size)
            yield from tasks
            if len(tasks) < page_size or page >= 1000:
                return
            page += 1

    def cancel(self, task_id: str) -> Task:
        """Cancel an unfinished task (an openkling extension; the official service has none)."""
        return task_from_data(
            self._client._request("POST", task_path(task_id, self._path) + "/cancel")
        )

    def wait(
        self,
        task_id: str | Task,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        on_progress: ProgressCallback | None = None,
        stream: bool = True,
    ) -> Task:
        """Wait until the task succeeds (returned) or fails (``TaskFailedError``); past
        ``timeout`` seconds raise ``WaitTimeout``. ``on_progress(task)`` sees every change.

        Live from the task's event stream where the server offers one (openkling), else (or
        with ``stream=False``) by polling every ``poll_interval`` seconds."""
        if isinstance(task_id, Task):
            task_id = task_id.task_id
        deadline = None if timeout is None else time.monotonic() + timeout
        if stream and self._client._events:
            task = self._client._follow(
                events_path(task_id, self._path),
                deadline=deadline,
                timeout=timeout,
                on_progress=on_progress,
            )
            if task is not None:
                return task
        while True:
            task = self.get(task_id)
            if on_progress is not None:
                on_progress(task)
            delay = poll_step(task, deadline=deadline, timeout=timeout, poll_interval=poll_interval)
            if delay is None:
                return task
            time.sleep(delay)

    def create_and_wait(
        self,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        on_progress: ProgressCallback | None = None,
        **params: Any,
    ) -> Task:
        """``create(**params)``, then ``wait()`` for it."""
        task = self.create(**params)
        if on_progress is not None:
            on_progress(task)
        return self.wait(
            task.task_id, timeout=timeout, poll_interval=poll_interval, on_progress=on_progress
        )

    def download(
        self,
        task_or_url: Task | str,
        path: str | os.PathLike[str] | None = None,
        *,
        index: int = 0,
        on_progress: DownloadProgress | None = None,
    ) -> Path:
        """Save a result video (a Task, a task id or a URL) to ``path`` (default
        ``<task_id>.mp4``), resuming an interrupted download. Returns the path written."""
        url, name, task_id = download_source(task_or_url, index)
        if url is None:
            task = self.get(task_id)
            url, name = video_url(task, index), download_source(task, index)[1]
        return self._client._download(url, target_path(path, name), on_progress)


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
