"""What the sync and async clients share: settings, JWT, retries, error mapping, parsing."""

from __future__ import annotations

import base64
import io
import json
import os
import random
import re
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import jwt
from jwt.warnings import InsecureKeyLengthWarning
from pydantic_settings import BaseSettings, SettingsConfigDict

from .. import __version__
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    InsufficientCreditsError,
    InvalidRequestError,
    KlingError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TaskFailedError,
    WaitTimeout,
)
from .types import Shot, Task

DEFAULT_BASE_URL = "https://api-singapore.klingai.com"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_WAIT_TIMEOUT = 1800.0
DEFAULT_POLL_INTERVAL = 2.0
TEXT2VIDEO_PATH = "/v1/videos/text2video"
IMAGE2VIDEO_PATH = "/v1/videos/image2video"
VIDEO_EXTEND_PATH = "/v1/videos/video-extend"
MULTI_IMAGE2VIDEO_PATH = "/v1/videos/multi-image2video"
EFFECTS_PATH = "/v1/videos/effects"
EFFECT_SCENES_PATH = "/v1/effects"  # openkling's list of scenes
COSTS_PATH = "/account/costs"
USER_AGENT = f"openkling-python/{__version__}"

ProgressCallback = Callable[[Task], Any]
DownloadProgress = Callable[[int, int | None], Any]


class ClientEnv(BaseSettings):
    """The client's environment: ``KLING_ACCESS_KEY``, ``KLING_SECRET_KEY``, ``KLING_API_KEY``,
    ``KLING_BASE_URL`` (the names of the seed example)."""

    model_config = SettingsConfigDict(env_prefix="KLING_", extra="ignore")
    access_key: str | None = None
    secret_key: str | None = None
    api_key: str | None = None
    base_url: str | None = None


def normalize_base_url(url: str) -> str:
    """``https://host/v1/`` and ``https://host`` are the same root: paths carry ``/v1``."""
    url = url.strip().rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise KlingError(f"base URL must be an http(s) URL, got {url!r}")
    return url


# ---- authentication -----------------------------------------------------------------------


class TokenSigner:
    """A Kling JWT (HS256), made once and reused until ``refresh_margin`` s before it expires."""

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        *,
        ttl: int = 1800,
        refresh_margin: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.access_key = access_key
        self._secret_key = secret_key
        self.ttl = ttl
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._token: str | None = None
        self._expires = 0
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            now = int(self._clock())
            if self._token is None or now >= self._expires - self.refresh_margin:
                self._expires = now + self.ttl
                with warnings.catch_warnings():
                    # the key length is the issuer's choice, not the caller's to fix
                    warnings.simplefilter("ignore", InsecureKeyLengthWarning)
                    self._token = jwt.encode(
                        {"iss": self.access_key, "exp": self._expires, "nbf": now - 5},
                        self._secret_key,
                        algorithm="HS256",
                        headers={"alg": "HS256", "typ": "JWT"},
                    )
            return self._token


@dataclass(frozen=True)
class StaticKey:
    """A plain API key sent as the bearer token (on openkling: the account's secret key)."""

    key: str

    def token(self) -> str:
        return self.key


def resolve_auth(
    access_key: str | None, secret_key: str | None, api_key: str | None, env: ClientEnv
) -> TokenSigner | StaticKey:
    """Arguments beat the environment; an access/secret pair beats an API key from the env."""
    if api_key:
        return StaticKey(api_key)
    ak = access_key or env.access_key
    sk = secret_key or env.secret_key
    if ak and sk:
        return TokenSigner(ak, sk)
    if env.api_key:
        return StaticKey(env.api_key)
    missing = "KLING_SECRET_KEY" if ak else "KLING_ACCESS_KEY" if sk else "credentials"
    raise AuthenticationError(
        f"no {missing}: pass access_key and secret_key (or api_key), or set KLING_ACCESS_KEY "
        "and KLING_SECRET_KEY (or KLING_API_KEY)"
    )


@dataclass(frozen=True)
class ClientConfig:
    """Everything a client needs besides its HTTP connection pool."""

    base_url: str
    auth: TokenSigner | StaticKey
    retry: RetryPolicy
    timeout: float

    @classmethod
    def resolve(
        cls,
        *,
        access_key: str | None,
        secret_key: str | None,
        api_key: str | None,
        base_url: str | None,
        timeout: float,
        max_retries: int,
        retry: RetryPolicy | None,
    ) -> ClientConfig:
        env = ClientEnv()
        return cls(
            base_url=normalize_base_url(base_url or env.base_url or DEFAULT_BASE_URL),
            auth=resolve_auth(access_key, secret_key, api_key, env),
            retry=retry or RetryPolicy(max_retries=max_retries),
            timeout=timeout,
        )

    def url(self, path: str) -> str:
        return self.base_url + path

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.auth.token()}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }


# ---- retries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, for idempotent requests only."""

    max_retries: int = DEFAULT_MAX_RETRIES
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, error: KlingError, attempt: int, *, idempotent: bool) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or ``None``: do not retry."""
        if not idempotent or attempt >= self.max_retries or not is_retryable(error):
            return None
        backoff = min(self.max_delay, self.base_delay * 2**attempt)
        backoff *= 0.5 + random.random() / 2  # jitter: spread clients that failed together
        hint = error.retry_after if isinstance(error, APIError) else None
        if hint is not None:
            return min(max(backoff, hint), self.max_retry_after)
        return backoff


def is_retryable(error: KlingError) -> bool:
    if isinstance(error, APIConnectionError | ServerError):
        return True
    return isinstance(error, RateLimitError) and error.code in (None, 1302, 1303)


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


# ---- errors -------------------------------------------------------------------------------

_BY_CODE: dict[int, type[APIError]] = {
    **dict.fromkeys((1000, 1001, 1002, 1003, 1004), AuthenticationError),
    **dict.fromkeys((1100, 1103, 1304), PermissionDeniedError),
    **dict.fromkeys((1101, 1102), InsufficientCreditsError),
    **dict.fromkeys((1200, 1201, 1202, 1300, 1301), InvalidRequestError),
    1203: NotFoundError,
    **dict.fromkeys((1302, 1303), RateLimitError),
    **dict.fromkeys((5000, 5001, 5002), ServerError),
}
_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: InvalidRequestError,
    409: InvalidRequestError,
    413: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
}


def error_class(status: int | None, code: int | None) -> type[APIError]:
    """The one mapping from a response to an error class: Kling code first, HTTP status next."""
    if code is not None and code in _BY_CODE:
        return _BY_CODE[code]
    if status is not None:
        if status in _BY_STATUS:
            return _BY_STATUS[status]
        if status >= 500:
            return ServerError
    return APIError


def api_error(response: httpx.Response, body: Any) -> APIError:
    """Build the error for an error response; ``body`` is its JSON, or ``None`` if it had none."""
    envelope = body if isinstance(body, dict) else {}
    code = envelope.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    message = envelope.get("message") or envelope.get("msg")
    if not message:
        text = response.text.strip().replace("\n", " ") if body is None else ""
        message = text[:200] or response.reason_phrase or "request failed"
    request_id = envelope.get("request_id") or response.headers.get("x-request-id")
    cls = error_class(response.status_code, code)
    error = cls(
        str(message),
        status_code=response.status_code,
        code=code,
        request_id=request_id,
        body=body,
    )
    error.retry_after = _retry_after(response.headers)
    return error


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def parse_envelope(response: httpx.Response) -> Any:
    """Return ``data`` of a Kling envelope; raise for HTTP errors and for ``code != 0``."""
    body = json_or_none(response)
    if response.status_code >= 400:
        raise api_error(response, body)
    if not isinstance(body, dict):
        raise APIError(
            f"expected a JSON envelope from {response.request.url.path}, got "
            f"{response.headers.get('content-type') or 'no content type'}",
            status_code=response.status_code,
            request_id=response.headers.get("x-request-id"),
            body=body,
        )
    code = body.get("code")
    if code not in (0, None, "0"):
        raise api_error(response, body)  # a business error delivered with HTTP 200
    return body.get("data")


def translate_transport(exc: Exception, url: str | httpx.URL) -> KlingError:
    """Turn an httpx exception into ours (the one boundary where they are caught)."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"request to {url} timed out: {detail}")
    return APIConnectionError(f"cannot reach {url}: {detail}")


TRANSPORT_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError)


# ---- requests -----------------------------------------------------------------------------


def create_body(**fields: Any) -> dict[str, Any]:
    """The create request: only the fields given; duration as Kling's string; sound on|off;
    ``multi_prompt`` from ``Shot``s or dicts (turning on ``multi_shot`` with
    ``shot_type: customize`` unless given, and ``duration`` to the shots' sum unless given);
    ``watermark_info`` from a bool or a dict."""
    body = {k: v for k, v in fields.items() if v is not None}
    shots = body.get("multi_prompt")
    if shots is not None:
        body["multi_prompt"] = [
            s.to_dict(i + 1) if isinstance(s, Shot) else dict(s) for i, s in enumerate(shots)
        ]
        body.setdefault("multi_shot", True)
        body.setdefault("shot_type", "customize")
        if "duration" not in body and all(isinstance(s, Shot) for s in shots):
            body["duration"] = sum(int(s.duration) for s in shots)
    if isinstance(body.get("watermark_info"), bool):
        body["watermark_info"] = {"enabled": body["watermark_info"]}
    if "duration" in body:
        duration = body["duration"]
        body["duration"] = str(int(duration)) if isinstance(duration, int | float) else duration
    if isinstance(body.get("sound"), bool):
        body["sound"] = "on" if body["sound"] else "off"
    return body


def task_path(task_id: str | None, base: str = TEXT2VIDEO_PATH) -> str:
    if not isinstance(task_id, str) or not task_id:
        raise InvalidRequestError(f"task_id must be a non-empty string, got {task_id!r}")
    return f"{base}/{quote(task_id, safe='')}"


_BASE64 = re.compile(r"^[A-Za-z0-9+/\s]+={0,2}$")


def image_value(image: Any, field: str = "image") -> str:
    """An image argument as Kling takes it: an http(s) URL as is; a path, bytes or a PIL image
    as raw base64 (no ``data:`` prefix); a base64 string as is (a ``data:`` prefix removed)."""
    if hasattr(image, "save") and hasattr(image, "mode"):  # a PIL image: sent as PNG
        out = io.BytesIO()
        picture = image if image.mode in ("RGB", "RGBA", "L", "LA") else image.convert("RGBA")
        picture.save(out, format="PNG")
        image = out.getvalue()
    if isinstance(image, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(image)).decode("ascii")
    if isinstance(image, os.PathLike):
        return _file_base64(Path(image), field)
    if not isinstance(image, str) or not image:
        raise InvalidRequestError(
            f"{field}: give a path, bytes, a PIL image or an http(s) URL, "
            f"got {type(image).__name__}"
        )
    if image.startswith(("http://", "https://")):
        return image
    if image.startswith("data:") and ";base64," in image[:100]:
        return image.split(",", 1)[1]
    if len(image) < 1024 and Path(image).expanduser().is_file():
        return _file_base64(Path(image).expanduser(), field)
    if len(image) >= 1024 and _BASE64.match(image[:4096]):
        return image  # already base64
    raise InvalidRequestError(
        f"{field}: {image[:80]!r} is neither an existing file, an http(s) URL nor base64"
    )


def _file_base64(path: Path, field: str) -> str:
    try:
        return base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError as exc:
        raise InvalidRequestError(f"{field}: cannot read {path}: {exc.strerror}") from None


def image2video_body(**fields: Any) -> dict[str, Any]:
    """The image2video create request: images encoded, masks' images too."""
    for name in ("image", "image_tail", "static_mask"):
        if fields.get(name) is not None:
            fields[name] = image_value(fields[name], name)
    masks = fields.get("dynamic_masks")
    if masks is not None:
        fields["dynamic_masks"] = [
            {**m, "mask": image_value(m.get("mask"), f"dynamic_masks[{i}].mask")}
            for i, m in enumerate(masks)
        ]
    return create_body(**fields)


def _sent(fields: dict[str, Any]) -> dict[str, Any]:
    """Only the fields given: the server applies its defaults to the rest."""
    return {name: value for name, value in fields.items() if value is not None}


def video_extend_body(video_id: str, **fields: Any) -> dict[str, Any]:
    """The video-extend create request."""
    if not isinstance(video_id, str) or not video_id:
        raise InvalidRequestError("video_id: give the id of a result video (Video.id)")
    return _sent({"video_id": video_id, **fields})


def multi_image2video_body(images: Any, **fields: Any) -> dict[str, Any]:
    """The multi-image2video create request: each image encoded as ``{"image": ...}``."""
    if isinstance(images, str | bytes | os.PathLike) or not hasattr(images, "__iter__"):
        images = [images]
    image_list = [
        {"image": image_value(image, f"image_list[{i}].image")} for i, image in enumerate(images)
    ]
    if "duration" in fields and fields["duration"] is not None:
        fields["duration"] = str(fields["duration"])
    return _sent({"image_list": image_list, **fields})


def effects_body(effect_scene: str, images: Any, **fields: Any) -> dict[str, Any]:
    """The effects create request: one picture as ``input.image``, two as ``input.images``."""
    if isinstance(images, str | bytes | os.PathLike) or not isinstance(images, list | tuple):
        given: dict[str, Any] = {"image": image_value(images, "input.image")}
    elif len(images) == 1:
        given = {"image": image_value(images[0], "input.image")}
    else:
        given = {"images": [image_value(im, f"input.images[{i}]") for i, im in enumerate(images)]}
    return _sent({"effect_scene": effect_scene, "input": given, **fields})


def costs_params(
    start_time: int | None, end_time: int | None, resource_pack_name: str | None
) -> dict[str, Any]:
    """The official endpoint wants a window in ms; default: the last 30 days."""
    end = end_time if end_time is not None else int(time.time() * 1000)
    start = start_time if start_time is not None else end - 30 * 24 * 3600 * 1000
    params: dict[str, Any] = {"start_time": start, "end_time": end}
    if resource_pack_name:
        params["resource_pack_name"] = resource_pack_name
    return params


def task_from_data(data: Any) -> Task:
    if not isinstance(data, dict):
        raise APIError(f"expected a task object in data, got {type(data).__name__}", body=data)
    return Task.from_dict(data)


def tasks_from_data(data: Any) -> list[Task]:
    """The list endpoint's ``data`` is a bare array (some proxies wrap it; accept that too)."""
    if isinstance(data, dict):
        data = data.get("tasks") or data.get("list") or []
    if not isinstance(data, list):
        raise APIError(f"expected a list of tasks in data, got {type(data).__name__}", body=data)
    return [Task.from_dict(item) for item in data if isinstance(item, dict)]


def pick_external(data: Any, external_task_id: str) -> Task:
    """``?external_task_id=`` answers one task (openkling) or a list to search (elsewhere)."""
    if isinstance(data, list):
        for task in tasks_from_data(data):
            if task.external_task_id == external_task_id:
                return task
        raise NotFoundError(f"no task with external_task_id {external_task_id!r}", code=1203)
    return task_from_data(data)


# ---- live events ----------------------------------------------------------------------------

EVENTS_READ_TIMEOUT = 45.0  # openkling sends a keep-alive line every 15 s on a quiet stream


def events_path(task_id: str, base: str = TEXT2VIDEO_PATH) -> str:
    return task_path(task_id, base) + "/events"


def offers_events(base_url: str) -> bool:
    """openkling streams task events; the official service does not (poll it)."""
    host = urlsplit(base_url).hostname or ""
    return not (host == "klingai.com" or host.endswith(".klingai.com"))


def events_timeout(timeout: float, deadline: float | None) -> httpx.Timeout:
    """Connect as usual; read at most until the wait's deadline, else a keep-alive's gap."""
    read = EVENTS_READ_TIMEOUT
    if deadline is not None:
        read = max(0.1, min(read, deadline - time.monotonic()))
    return httpx.Timeout(timeout, read=read)


def stream_verdict(response: httpx.Response, body: Any) -> str:
    """After opening an event stream: "stream" (read it), "unsupported" (this server has no
    events: poll from now on) or "poll" (not now: poll this wait). Raises for a missing task
    and for bad credentials, which polling would meet as well."""
    if response.status_code == 200:
        kind = response.headers.get("content-type", "")
        return "stream" if kind.startswith("text/event-stream") else "unsupported"
    error = api_error(response, body)
    if isinstance(error, AuthenticationError | PermissionDeniedError) or error.code == 1203:
        raise error
    return "unsupported" if response.status_code in (404, 405) else "poll"


class SseDecoder:
    """Server-sent events, a line at a time: ``feed`` returns ``(event, data)`` at the blank
    line that ends an event, else ``None``."""

    def __init__(self) -> None:
        self.event = "message"
        self.data: list[str] = []

    def feed(self, line: str) -> tuple[str, str] | None:
        if line == "":
            out = (self.event, "\n".join(self.data)) if self.data else None
            self.event, self.data = "message", []
            return out
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            self.event = value
        elif field == "data":
            self.data.append(value)
        return None


def event_task(data: str) -> Task | None:
    """The task object an event carries (``None`` for an event that is not one)."""
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    return Task.from_dict(payload) if isinstance(payload, dict) and "task_id" in payload else None


# ---- polling ------------------------------------------------------------------------------


def poll_step(
    task: Task, *, deadline: float | None, timeout: float | None, poll_interval: float
) -> float | None:
    """After one poll: ``None`` when done (succeeded), else the seconds to sleep. Raises
    ``TaskFailedError`` for a failed task and ``WaitTimeout`` past the deadline."""
    if task.task_status == "succeed":
        return None
    if task.task_status == "failed":
        raise TaskFailedError(task)
    if deadline is None:
        return poll_interval
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise WaitTimeout(task, timeout or 0.0)
    return min(poll_interval, remaining)
