"""Spritesheets: evenly spaced frames of a video tiled into one JPEG grid, for scrubbing."""

from __future__ import annotations

import io
import math

import av
from PIL import Image

TILES = 16  # frames on the sheet (fewer when the video is shorter)
COLUMNS = 4
TILE_LONG_SIDE = 256  # pixels of each tile's long side


def tile_size(width: int, height: int) -> tuple[int, int]:
    scale = TILE_LONG_SIDE / max(width, height)
    return max(2, round(width * scale)), max(2, round(height * scale))


def make_spritesheet(video: bytes, *, tiles: int = TILES, columns: int = COLUMNS) -> bytes:
    """A JPEG grid (``columns`` wide, row by row in time order) of ``tiles`` frames spread
    evenly over the video, the first frame first. Frames are decoded one at a time."""
    with av.open(io.BytesIO(video), "r") as container:
        stream = container.streams.video[0]
        total = stream.frames or 0
        if total <= 0:  # no frame count in the header: count by decoding once
            total = sum(1 for _ in container.decode(stream))
            container.seek(0)
        count = max(1, min(tiles, total))
        wanted = {round(i * (total - 1) / max(count - 1, 1)) for i in range(count)}
        cells: list[Image.Image] = []
        size = tile_size(stream.codec_context.width, stream.codec_context.height)
        for index, frame in enumerate(container.decode(stream)):
            if index in wanted:
                cells.append(frame.to_image().resize(size, Image.Resampling.BILINEAR))
            if len(cells) == len(wanted):
                break
    if not cells:
        raise ValueError("the video has no frames")
    cols = min(columns, len(cells))
    rows = math.ceil(len(cells) / cols)
    sheet = Image.new("RGB", (cols * size[0], rows * size[1]))
    for i, cell in enumerate(cells):
        sheet.paste(cell, ((i % cols) * size[0], (i // cols) * size[1]))
    out = io.BytesIO()
    sheet.save(out, format="JPEG", quality=85)
    return out.getvalue()


def sprite_key(video_key: str) -> str:
    """Where a video's spritesheet is kept: beside it (``videos/<id>-sprite.jpg``)."""
    stem = video_key.rsplit(".", 1)[0]
    return f"{stem}-sprite.jpg"
