"""Storing a door's input files, then creating its task: the files go if the create fails."""

from __future__ import annotations

import logging

from ...contract.kling.neighbours import DoorParse
from ...runtime import Runtime

log = logging.getLogger(__name__)


def create_with_inputs(rt: Runtime, account, parsed: DoorParse, *, family: str):
    written: list[str] = []
    try:  # inputs are written only after every check passed, and removed if create fails
        for key, image in parsed.files.items():
            rt.storage.put_bytes(key, image.data, image.content_type)
            written.append(key)
        return rt.service.create(account, parsed.request, family=family)
    except BaseException:
        for key in written:
            try:
                rt.storage.delete(key)
            except Exception:  # the create's own error is the one to report
                log.exception("could not remove input %s of a refused request", key)
        raise
