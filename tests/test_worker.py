"""The worker's own housekeeping: scratch folders a killed process left behind."""

from __future__ import annotations

import os
import time

from openkling.config import Settings
from openkling.runtime import build_runtime


def test_leftover_scratch_is_removed_but_not_a_live_one(tmp_path):
    settings = Settings(data_dir=tmp_path, task_timeout_seconds=600)
    stale, live = tmp_path / "tmp" / "111-stale", tmp_path / "tmp" / "222-live"
    for folder in (stale, live):
        folder.mkdir(parents=True)
        (folder / "video.mp4").write_bytes(b"partial")
    long_ago = time.time() - 3600  # older than any run could be
    os.utime(stale, (long_ago, long_ago))

    runtime = build_runtime(settings, callbacks=False)
    try:
        assert not stale.exists()
        assert (live / "video.mp4").exists()
    finally:
        runtime.stop()
