"""Settings: the one place openkling reads its configuration (env vars ``OPENKLING_*``)."""

from __future__ import annotations

import json
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .domain.vocabulary import MODES
from .net.hosts import entry_name

if TYPE_CHECKING:
    from .net.guard import AllowList

DEFAULT_REFUSED_TERMS = ("child sexual abuse", "csam", "bestiality")


class Settings(BaseSettings):
    """Server, worker and storage settings. Every field has an ``OPENKLING_<NAME>`` variable."""

    model_config = SettingsConfigDict(env_prefix="OPENKLING_", extra="ignore")

    # where everything embedded lives
    data_dir: Path = Path("openkling-data")
    database_url: str | None = None  # default: sqlite in data_dir
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str | None = None  # root of result URLs in responses and callbacks

    # dispatch and workers
    dispatcher: Literal["inprocess", "celery"] = "inprocess"
    broker_url: str = "redis://127.0.0.1:6379/0"
    workers: int = Field(1, ge=0)  # in-process worker threads; 0 runs no engine here
    lease_seconds: float = Field(30.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    task_timeout_seconds: float = Field(3600.0, gt=0)
    shutdown_grace_seconds: float = Field(5.0, ge=0)  # running tasks may finish; then handed back
    # a worker keeps to its loaded model while its tasks wait, and a cold or idle one takes the
    # most under-served model, but the fair pick is passed over for another model at most
    # this many times (0: the fair pick always; tasks/scheduling.py)
    affinity_max_skips: int = Field(3, ge=0)
    # about how long a worker takes to load a model's pipeline: a worker whose model has nothing
    # waiting stays idle rather than load another model when that model's own workers are
    # expected to end their runs sooner (docs/scheduling.md, rule 5); 0 never stays idle
    pipeline_load_seconds: float = Field(0.0, ge=0)

    # engines
    profiles_file: Path | None = None
    effects_file: Path | None = None  # a deployment's effect scenes, added to the package's
    fps: int = 24  # synthetic engine frame rate
    std_short_side: int = 720
    pro_short_side: int = 1080
    x264_preset: str = "veryfast"

    # storage
    storage: Literal["local", "s3"] = "local"
    url_expiry_seconds: int = Field(30 * 24 * 3600, gt=0)
    s3_endpoint_url: str | None = None
    s3_bucket: str = "openkling"
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    url_signing_key: str | None = None  # default: a random key kept in data_dir

    # accounts, limits, policy
    default_credits: int = 1000
    rate_limit_per_minute: int = Field(600, ge=0)  # create requests per account; 0 = off
    max_concurrent_tasks: int = Field(50, ge=0)  # unfinished tasks per account; 0 = off
    refused_terms: Annotated[list[str], NoDecode] = list(DEFAULT_REFUSED_TERMS)
    jwt_leeway_seconds: int = 5
    # a JWT's exp may lie at most this far ahead (Kling's examples use 30 minutes)
    jwt_max_lifetime_seconds: int = Field(86400, gt=0)
    max_body_bytes: int = 64 * 1024

    # image2video inputs (images and masks: base64 in the body, or http(s) URLs)
    image_body_bytes: int = Field(64 * 1024 * 1024, gt=0)  # request body limit at image2video
    # one request's image fetches together, redirects included: the whole request's budget
    image_fetch_timeout_seconds: float = Field(15.0, gt=0)
    # fetching and decoding input images runs on a pool of its own per API process; full: 429
    image_workers: int = Field(8, ge=1)
    image_workers_per_account: int = Field(2, ge=1)  # an account's share of that pool
    image_pixel_budget: int = Field(64_000_000, ge=1)  # pixels one request's images may decode

    # callbacks
    callback_timeout_seconds: float = 10.0
    callback_max_attempts: int = 12
    callback_backoff_seconds: float = 2.0
    callback_backoff_max_seconds: float = 600.0

    # live events (server-sent events for the studio, the SDK's wait and the CLI)
    events_poll_seconds: float = Field(0.5, gt=0)  # how often a stream re-reads the store
    events_streams_per_account: int = Field(8, ge=1)  # open streams one account may hold
    events_max_seconds: float = Field(1800.0, gt=0)  # a stream ends after this; clients reopen
    events_keepalive_seconds: float = Field(15.0, gt=0)  # comment line on a quiet stream

    # OpenAI video API (/v1/videos): each OpenAI model name -> "kling-model:mode". Set as JSON
    # or as "sora-2=kling-v2-6:std,sora-2-pro=kling-v2-6:pro"; unset, both names go to the
    # catalog's default model (kling-v1 if served), sora-2 in std mode and sora-2-pro in pro.
    openai_model_map: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    openai_poll_after_ms: int = Field(1000, ge=0)  # the `openai-poll-after-ms` header on GET
    # true: the video has exactly the requested size; false: the size's aspect at the engine's
    # own resolution for the mode (e.g. a diffusers model's native 832x480)
    openai_exact_size: bool = True
    # a create's multipart body: an image of up to 10 MB and the text fields
    openai_max_upload_bytes: int = Field(11 * 1024 * 1024, gt=0)

    # outbound URL guard (callbacks, fetched inputs): host names ("hooks.internal",
    # "*.corp.example") and CIDRs ("10.0.0.0/8", "127.0.0.1/32") admitted although they are
    # loopback, private, link-local or metadata destinations; comma-separated, default none
    url_allow: Annotated[list[str], NoDecode] = []

    # retention: a succeeded task's result files are deleted this long after it finished
    # (default: the URL expiry, 30 days as Kling's); servers sweep every retention_sweep_seconds
    retention_seconds: int | None = Field(None, gt=0)
    retention_sweep_seconds: float = Field(300.0, gt=0)

    # watermarks (watermark_info): the visible mark on the watermarked copy of a video
    watermark_text: str = "openkling"  # the mark's text, when no image is set
    watermark_image: Path | None = None  # a PNG (with alpha) or JPEG used instead of the text
    watermark_corner: Literal["top-left", "top-right", "bottom-left", "bottom-right"] = (
        "bottom-right"
    )

    # the HTTP edge: who may connect, and how slowly (see docs/deploy.md, "Internet-facing")
    # extra host names the API answers for; by default only loopback names, the address a
    # connection arrived on, OPENKLING_HOST and the host of OPENKLING_PUBLIC_BASE_URL
    allowed_hosts: Annotated[list[str], NoDecode] = []
    header_timeout_seconds: float = Field(10.0, gt=0)  # a request's headers must arrive by then
    body_timeout_seconds: float = Field(20.0, gt=0)  # its body, counted from the headers' end
    max_connections: int = Field(1000, ge=0)  # open connections; more get 503 / 5001; 0 = off

    # operations
    api_threads: int = Field(6, ge=1)  # threads running request handlers
    maintenance: bool = False
    log_level: str = "INFO"

    # observability: logs and Prometheus metrics
    log_format: Literal["plain", "json"] = "plain"  # json: one object per line
    metrics: bool = True  # GET /metrics (Prometheus text), not behind the API keys
    metrics_port: int = Field(0, ge=0, le=65535)  # >0: serve /metrics here, not on the API port
    metrics_host: str = "127.0.0.1"  # interface of the metrics port (metrics_port > 0)

    @field_validator("refused_terms", mode="before")
    @classmethod
    def _split_terms(cls, value: object) -> object:
        if isinstance(value, str):
            return [t.strip() for t in value.split(",") if t.strip()]
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            value = [t.strip() for t in value.split(",") if t.strip()]
        for entry in value if isinstance(value, list) else []:
            if entry_name(str(entry)) is None:  # a bad entry stops start-up, naming the entry
                raise ValueError(f"{entry!r} is not a host name (example: api.example.com)")
        return value

    @field_validator("openai_model_map", mode="before")
    @classmethod
    def _parse_model_map(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("{"):
                return json.loads(text)
            pairs = [p.strip() for p in text.split(",") if p.strip()]
            if any("=" not in p for p in pairs):
                raise ValueError('write it as "sora-2=kling-v2-6:std,sora-2-pro=kling-v2-6:pro"')
            value = dict(p.split("=", 1) for p in pairs)
        if isinstance(value, dict):
            for name, target in value.items():
                model, _, mode = str(target).strip().partition(":")
                if not model or mode not in ("", *MODES):
                    raise ValueError(
                        f"{name}: {target!r} must be 'kling-model' or 'kling-model:std|pro'"
                    )
            return {str(k).strip(): str(v).strip() for k, v in value.items()}
        return value

    @field_validator("url_allow", mode="before")
    @classmethod
    def _split_allow(cls, value: object) -> object:
        if isinstance(value, str):
            value = [t.strip() for t in value.split(",") if t.strip()]
        from .net.guard import AllowList

        if isinstance(value, list | tuple | set | frozenset):  # else pydantic refuses it
            AllowList.parse(str(entry) for entry in value)  # a bad entry stops start-up
        return value

    @cached_property
    def url_allowlist(self) -> AllowList:
        """``url_allow`` as the guard reads it."""
        from .net.guard import AllowList

        return AllowList.parse(self.url_allow)

    @property
    def public_base(self) -> str:
        """The server's public root for URLs made outside a request (callbacks): the
        setting, else the bind address, with a wildcard bind read as this machine."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(self.host, self.host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def retention(self) -> int:
        """Seconds a result's files are kept after its task finished."""
        return self.retention_seconds or self.url_expiry_seconds

    @cached_property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'openkling.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @cached_property
    def signing_key(self) -> bytes:
        """Key for signed media URLs: the setting, else one kept in the data dir."""
        if self.url_signing_key:
            return self.url_signing_key.encode()
        path = self.data_dir / "url-signing.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(secrets.token_hex(32))
            try:  # link, not replace: a key another process made first wins
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip().encode()
