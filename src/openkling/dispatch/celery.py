"""Celery dispatcher: a message on a model's queue wakes a worker serving that model; the
worker's claim in the task store decides which task it runs. A sweeper re-publishes wake-ups
for tasks nobody runs, so a lost message loses no task."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from celery import Celery

from ..config import Settings

log = logging.getLogger(__name__)

TASK_NAME = "openkling.run"
QUEUE_PREFIX = "openkling."
# kombu transport options that may be given as query parameters of OPENKLING_BROKER_URL,
# e.g. redis://host:6379/0?global_keyprefix=staging: (a key prefix for every broker key)
URL_TRANSPORT_OPTIONS = ("global_keyprefix",)
REPUBLISH_MAX_SECONDS = 600.0


def queue_name(model_name: str) -> str:
    """The queue a model's tasks go to (workers consume the queues of their models only)."""
    return f"{QUEUE_PREFIX}{model_name}"


def split_broker_url(url: str) -> tuple[str, dict]:
    """Take the transport options we accept as query parameters out of the broker URL."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = {k: v for k, v in query if k in URL_TRANSPORT_OPTIONS}
    rest = [(k, v) for k, v in query if k not in URL_TRANSPORT_OPTIONS]
    return urlunsplit(parts._replace(query=urlencode(rest))), options


def make_celery_app(settings: Settings, run: Callable[[str], None] | None = None) -> Celery:
    """The Celery app both sides share. A message carries the id of the task that caused it,
    for the logs; it is a wake-up: ``run`` (worker side) claims whatever the fair claim gives
    this worker (``Worker.run_next``), which need not be that task."""
    broker_url, url_options = split_broker_url(settings.broker_url)
    app = Celery("openkling", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        # a message is acked when its task is done, so a worker that dies mid-task leaves it
        # unacked; the task store's lease (see the sweeper below) re-runs it much sooner
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_create_missing_queues=True,
        task_default_queue=queue_name("default"),
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        broker_pool_limit=10,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        broker_transport_options={
            # Redis hands an unacked message to another worker after this long. It must exceed
            # the longest task, or a slow task would be delivered twice (harmless: the second
            # claim finds the lease held, but wasteful).
            "visibility_timeout": int(
                settings.task_timeout_seconds + max(60, 3 * settings.lease_seconds)
            ),
            "socket_connect_timeout": 3,
            "socket_timeout": 30,
            "retry_on_timeout": True,
            **url_options,
        },
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        worker_enable_remote_control=True,
    )

    @app.task(name=TASK_NAME, ignore_result=True)
    def run_task(task_id: str) -> str:
        if run is None:
            raise RuntimeError("this process runs no openkling worker")
        run(task_id)
        return task_id

    return app


class CeleryDispatcher:
    """Publishes one wake-up per task to its model's queue. The sweeper re-publishes wake-ups
    for tasks that nobody runs (a message lost with the broker, a worker killed mid-task whose
    lease ran out), backing off per task so that a long queue is not flooded with copies."""

    name = "celery"

    def __init__(
        self,
        settings: Settings,
        *,
        stale: Callable[[], list[tuple[str, str]]],
        sweep_seconds: float,
    ) -> None:
        self.settings = settings
        self.app = make_celery_app(settings)
        self._stale = stale
        self._sweep_seconds = sweep_seconds
        self._published: dict[str, tuple[float, int]] = {}  # task id -> (last time, times)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish(self, task_id: str, model_name: str) -> str:
        """Send one message for ``task_id``; returns the message id. Raises if the broker fails."""
        queue = queue_name(model_name)
        message = self.app.send_task(TASK_NAME, args=[task_id], queue=queue, routing_key=queue)
        with self._lock:
            _, times = self._published.get(task_id, (0.0, 0))
            self._published[task_id] = (time.monotonic(), times + 1)
        return message.id

    def submit(self, task_id: str, model_name: str) -> None:
        # The task is already stored (and charged): a broker outage must not fail the request.
        # The sweeper publishes it once the broker is back.
        try:
            self.publish(task_id, model_name)
        except Exception as exc:
            log.warning("task %s: not published yet (%s); the sweeper will retry", task_id, exc)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._sweep, name="celery-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.app.close()

    def check(self) -> None:
        """Ping the broker (raises if it does not answer)."""
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.5, timeout=5)
            client = getattr(conn.default_channel, "client", None)
            if client is not None and hasattr(client, "ping"):
                client.ping()

    def _due(self, task_id: str, now: float) -> bool:
        """Re-publish a stale task at once the first time, then after growing pauses."""
        with self._lock:
            last, times = self._published.get(task_id, (0.0, 0))
        if times == 0:
            return True
        pause = min(self._sweep_seconds * 2 ** min(times, 10), REPUBLISH_MAX_SECONDS)
        return now - last >= pause

    def sweep_once(self) -> int:
        stale = self._stale()
        now = time.monotonic()
        sent = 0
        for task_id, model_name in stale:
            if not self._due(task_id, now):
                continue
            try:
                self.publish(task_id, model_name)
                sent += 1
            except Exception as exc:
                log.warning("sweep: broker unavailable (%s)", exc)
                break
        with self._lock:  # forget tasks that are no longer stale, except ones just published
            keep = {task_id for task_id, _ in stale}
            self._published = {
                k: v
                for k, v in self._published.items()
                if k in keep or now - v[0] < REPUBLISH_MAX_SECONDS
            }
        if sent:
            log.info("sweep: re-published %d task(s) nobody was running", sent)
        return sent

    def _sweep(self) -> None:
        while not self._stop.wait(self._sweep_seconds):
            try:
                self.sweep_once()
            except Exception:
                log.exception("sweep failed")
