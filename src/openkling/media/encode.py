"""MP4 writing and probing with PyAV: H.264 yuv420p (+ AAC 48 kHz stereo), faststart, a cover."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

AUDIO_CHANNELS = 2

# H.264 colour tags (ISO/IEC 23091-2 code points) for what _to_yuv420p writes: BT.601
# matrix, limited ("tv") range, on sRGB-like (BT.709 primaries) content.
MATRIX_BT601 = 6  # SMPTE 170M
PRIMARIES_BT709 = 1
TRANSFER_BT709 = 1
RANGE_TV = 1
# full-range (JPEG) chroma -> tv-range chroma: 128 + (c - 128) * 224 / 255
_FULL_TO_TV_CHROMA = np.clip(np.round(128 + (np.arange(256) - 128) * 224 / 255), 0, 255).astype(
    np.uint8
)


@dataclass(frozen=True)
class MediaInfo:
    width: int
    height: int
    num_frames: int
    fps: float
    duration: float  # seconds, of the video stream
    has_audio: bool
    audio_duration: float  # seconds; 0.0 when there is no audio
    audio_sample_rate: int
    audio_channels: int
    video_codec: str
    pix_fmt: str


def _fps_fraction(fps: float) -> Fraction:
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return Fraction(fps).limit_denominator(1001)


def _to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """RGB -> planar I420 (BT.601, tv range); each chroma sample is the mean of its 2x2 block.

    OpenCV's own I420 converter takes chroma from one pixel of each block (colour fringes on
    edges), so the chroma planes come from a 2x2 area-averaged copy. About 5x faster than
    swscale on the same frame.
    """
    h, w = rgb.shape[:2]
    out = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)  # its luma is right; chroma replaced below
    half = cv2.resize(rgb, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    ycrcb = cv2.LUT(cv2.cvtColor(half, cv2.COLOR_RGB2YCrCb), _FULL_TO_TV_CHROMA)
    flat = out.reshape(-1)
    quarter = (h // 2) * (w // 2)
    flat[h * w : h * w + quarter] = ycrcb[:, :, 2].reshape(-1)  # Cb (U)
    flat[h * w + quarter :] = ycrcb[:, :, 1].reshape(-1)  # Cr (V)
    return out


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.part")


class _AudioFeed:
    """Pushes a fixed soundtrack into the AAC encoder in step with the video frames."""

    def __init__(self, container, audio: np.ndarray, sample_rate: int) -> None:
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 2 or audio.shape[0] != AUDIO_CHANNELS:
            raise ValueError(f"audio must be float32 shaped (2, n), got {audio.shape}")
        self.audio = np.clip(audio, -1.0, 1.0)
        self.rate = sample_rate
        self.stream = container.add_stream("aac", rate=sample_rate, layout="stereo")
        self.stream.bit_rate = 160_000
        self.container = container
        self.sent = 0
        self.chunk = 1024  # AAC's frame size

    def _samples(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop): the track, then silence past its end."""
        out = np.zeros((AUDIO_CHANNELS, stop - start), np.float32)
        have = self.audio[:, start : min(stop, self.audio.shape[1])]
        out[:, : have.shape[1]] = have
        return out

    def feed_until(self, target: int, final: bool = False) -> None:
        while self.sent < target:
            size = min(self.chunk, target - self.sent)
            if size < self.chunk and not final:
                return
            data = np.ascontiguousarray(self._samples(self.sent, self.sent + size))
            frame = av.AudioFrame.from_ndarray(data, format="fltp", layout="stereo")
            frame.sample_rate = self.rate
            frame.pts = self.sent
            frame.time_base = Fraction(1, self.rate)
            self.container.mux(self.stream.encode(frame))
            self.sent += size

    def flush(self) -> None:
        self.container.mux(self.stream.encode(None))


class _CoverPicker:
    """Keeps the few frames that may become the cover, since frames stream by only once."""

    def __init__(self, expected_frames: int | None) -> None:
        self.target = expected_frames // 3 if expected_frames else None
        self.kept: dict[int, np.ndarray] = {}

    def offer(self, index: int, frame: np.ndarray) -> None:
        if index == 0 or index == self.target:
            self.kept[index] = frame.copy()
        elif self.target is None and index & (index - 1) == 0:  # 1, 2, 4, 8, ...
            self.kept[index] = frame.copy()
            if len(self.kept) > 3:  # the largest power of two <= n/3 is among the last three
                del self.kept[min(self.kept)]

    def pick(self, count: int) -> np.ndarray:
        if self.target in self.kept:
            return self.kept[self.target]
        return self.kept[max((i for i in self.kept if 3 * i <= count), default=min(self.kept))]


def encode_mp4(
    path: Path | str,
    frames: Iterable[np.ndarray],
    *,
    fps: float,
    width: int,
    height: int,
    audio: np.ndarray | None = None,
    sample_rate: int = 48000,
    preset: str = "veryfast",
    cover_path: Path | str | None = None,
    crf: int = 20,
    expected_frames: int | None = None,
) -> int:
    """Stream ``frames`` (HxWx3 uint8 RGB) into an MP4 at ``path``; return the frame count.

    The file appears only when complete (written beside it, then renamed). With ``audio``
    (float32, shape (2, n)) an AAC track is muxed, cut or padded with silence to exactly the
    video's length. The cover is the frame at a third of the clip (of ``expected_frames``
    when given, else the nearest earlier power-of-two frame index, since frames stream by).
    """
    path = Path(path)
    if width % 2 or height % 2 or width <= 0 or height <= 0:
        raise ValueError(
            f"width and height must be positive and even for yuv420p, got {width}x{height}"
        )
    rate = _fps_fraction(fps)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(path)
    count = 0
    covers = _CoverPicker(expected_frames)
    try:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as container:
            video = container.add_stream("libx264", rate=rate)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.options = {"preset": preset, "crf": str(crf)}
            ctx = video.codec_context
            ctx.colorspace, ctx.color_range = MATRIX_BT601, RANGE_TV
            ctx.color_primaries, ctx.color_trc = PRIMARIES_BT709, TRANSFER_BT709
            feed = _AudioFeed(container, audio, sample_rate) if audio is not None else None
            for frame in frames:
                if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
                    raise ValueError(
                        f"frame {count} is {frame.shape} {frame.dtype}; "
                        f"expected ({height}, {width}, 3) uint8"
                    )
                covers.offer(count, frame)
                out = av.VideoFrame.from_ndarray(_to_yuv420p(frame), format="yuv420p")
                out.pts = count
                out.time_base = 1 / rate
                container.mux(video.encode(out))
                count += 1
                if feed is not None:
                    feed.feed_until(round(count / rate * sample_rate))
            if count == 0:
                raise ValueError("no frames to encode")
            container.mux(video.encode(None))
            if feed is not None:
                feed.feed_until(round(count / rate * sample_rate), final=True)
                feed.flush()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if cover_path is not None:
        write_cover(Path(cover_path), covers.pick(count))
    return count


def i420_patch_to_rgb(i420: np.ndarray, x: int, y: int, w: int, h: int) -> np.ndarray:
    """The RGB pixels of the even-aligned rectangle (x, y, w, h) of a planar I420 frame."""
    height, width = i420.shape[0] * 2 // 3, i420.shape[1]
    planes = _i420_planes(i420, width, height)
    ys = planes[0][y : y + h, x : x + w]
    us = planes[1][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2]
    vs = planes[2][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2]
    packed = np.concatenate([ys.reshape(-1), us.reshape(-1), vs.reshape(-1)]).reshape(-1, w)
    return cv2.cvtColor(packed, cv2.COLOR_YUV2RGB_I420)


def rgb_patch_into_i420(i420: np.ndarray, rgb: np.ndarray, x: int, y: int) -> None:
    """Write an RGB rectangle (even size) into a planar I420 frame at the even point (x, y)."""
    height, width = i420.shape[0] * 2 // 3, i420.shape[1]
    h, w = rgb.shape[:2]
    patch = _to_yuv420p(np.ascontiguousarray(rgb)).reshape(-1)
    planes = _i420_planes(i420, width, height)
    planes[0][y : y + h, x : x + w] = patch[: h * w].reshape(h, w)
    quarter = (h // 2) * (w // 2)
    u = patch[h * w : h * w + quarter].reshape(h // 2, w // 2)
    v = patch[h * w + quarter :].reshape(h // 2, w // 2)
    planes[1][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = u
    planes[2][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = v


def _i420_planes(i420: np.ndarray, width: int, height: int) -> tuple[np.ndarray, ...]:
    """Views of the Y, U and V planes of a contiguous I420 frame shaped (h * 3 / 2, w)."""
    flat = i420.reshape(-1)
    quarter = (height // 2) * (width // 2)
    luma = flat[: width * height].reshape(height, width)
    u = flat[width * height : width * height + quarter].reshape(height // 2, width // 2)
    v = flat[width * height + quarter :].reshape(height // 2, width // 2)
    return luma, u, v


def rewrite_video(
    src: Path | str,
    dst: Path | str,
    edit: Callable[[np.ndarray], None],
    *,
    preset: str = "veryfast",
    crf: int = 12,
) -> int:
    """Copy the MP4 ``src`` to ``dst`` with every video frame passed through ``edit``.

    ``edit`` changes a decoded frame in place: a planar I420 array shaped (h * 3 / 2, w), as
    ``i420_patch_to_rgb`` / ``rgb_patch_into_i420`` read and write it, so pixels it does not
    touch keep their decoded values exactly (no colour round trip). The video is re-encoded
    at the source's rate, size and colour tags with a low ``crf``, so the second generation
    stays within a level or two of the first; the audio packets are copied as they are,
    never re-encoded. The file appears only when complete. Returns the number of frames.
    """
    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(dst)
    count = 0
    try:
        with (
            av.open(str(src), "r") as source,
            av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out,
        ):
            if not source.streams.video:
                raise ValueError(f"{src} has no video stream")
            vin = source.streams.video[0]
            width, height = vin.codec_context.width, vin.codec_context.height
            rate = _fps_fraction(float(vin.average_rate or vin.guessed_rate or 24))
            vout = out.add_stream("libx264", rate=rate)
            vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
            vout.options = {"preset": preset, "crf": str(crf)}
            ctx = vout.codec_context
            ctx.colorspace, ctx.color_range = MATRIX_BT601, RANGE_TV
            ctx.color_primaries, ctx.color_trc = PRIMARIES_BT709, TRANSFER_BT709
            ain = source.streams.audio[0] if source.streams.audio else None
            aout = out.add_stream_from_template(ain) if ain is not None else None
            streams = [vin] + ([ain] if ain is not None else [])
            for packet in source.demux(*streams):
                if aout is not None and packet.stream is ain:
                    if packet.dts is None:  # the demuxer's end-of-stream marker
                        continue
                    packet.stream = aout
                    out.mux(packet)
                    continue
                for decoded in packet.decode():
                    if not isinstance(decoded, av.VideoFrame):  # the video stream's packets
                        continue
                    if decoded.format.name != "yuv420p":
                        decoded = decoded.reformat(format="yuv420p")
                    i420 = np.ascontiguousarray(decoded.to_ndarray(format="yuv420p"), np.uint8)
                    edit(i420)
                    frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
                    frame.pts = count
                    frame.time_base = 1 / rate
                    out.mux(vout.encode(frame))
                    count += 1
            if count == 0:
                raise ValueError(f"{src} has no video frames")
            out.mux(vout.encode(None))
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return count


def write_cover(path: Path, frame: np.ndarray, quality: int = 88) -> None:
    """A JPEG of one frame, written beside ``path`` and renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(path)
    try:
        Image.fromarray(frame).save(tmp, format="JPEG", quality=quality)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def probe(path: Path | str) -> MediaInfo:
    """What a file really holds: size, frames, rate and lengths of its streams."""
    with av.open(str(path), "r") as container:
        if not container.streams.video:
            raise ValueError(f"{path} has no video stream")
        video = container.streams.video[0]
        fps = float(video.average_rate or video.guessed_rate or 0)
        num_frames = video.frames
        if not num_frames:  # some containers do not say; count the packets
            num_frames = sum(1 for p in container.demux(video) if p.size)
            container.seek(0)
        if video.duration is not None and video.time_base is not None:
            duration = float(video.duration * video.time_base)
        else:
            duration = num_frames / fps if fps else 0.0
        audio_stream = container.streams.audio[0] if container.streams.audio else None
        audio_duration, audio_rate, audio_channels = 0.0, 0, 0
        if audio_stream is not None:
            if audio_stream.duration is not None and audio_stream.time_base is not None:
                audio_duration = float(audio_stream.duration * audio_stream.time_base)
            audio_rate = audio_stream.codec_context.sample_rate
            audio_channels = audio_stream.codec_context.layout.nb_channels
        return MediaInfo(
            width=video.codec_context.width,
            height=video.codec_context.height,
            num_frames=num_frames,
            fps=fps,
            duration=duration,
            has_audio=audio_stream is not None,
            audio_duration=audio_duration,
            audio_sample_rate=audio_rate,
            audio_channels=audio_channels,
            video_codec=video.codec_context.name,
            pix_fmt=video.codec_context.pix_fmt or "",
        )
