"""StableAudioEngine: soundtracks from Stable Audio Open weights on local disk (diffusers)."""

from __future__ import annotations

import logging
from math import gcd
from typing import Any

import numpy as np

from ..errors import EngineError
from .diffusers.common import LoadSpec, check_pipeline_dir
from .diffusers.engine import PipelinePool, reset_pipeline
from .profiles import AudioProfile, ModelProfile

log = logging.getLogger(__name__)

PIPELINE = "StableAudioPipeline"


class StableAudioEngine:
    """An AudioEngine over diffusers' StableAudioPipeline, loaded lazily and kept warm."""

    name = "stable-audio"

    def __init__(self, audio: AudioProfile, pool: PipelinePool):
        assert audio.weights is not None
        self.audio = audio
        self.pool = pool
        self.spec = LoadSpec(
            pipeline=PIPELINE,
            weights=audio.weights,
            device=audio.device,
            dtype=audio.dtype,
            denoisers=(),
        )

    @classmethod
    def from_profile(cls, profile: ModelProfile, pool: PipelinePool) -> StableAudioEngine:
        """Check the weights' structure now (naming the model's profile); load them later."""
        audio = profile.audio
        assert audio is not None and audio.weights is not None
        check_pipeline_dir(profile, audio.weights, (PIPELINE,), PIPELINE)
        return cls(audio, pool)

    def preload(self) -> None:
        with self.pool.lock:
            self.pool.get(self.spec)

    def render(
        self, prompt: str, seconds: float, seed: int, sample_rate: int = 48000
    ) -> np.ndarray:
        import torch

        length = round(seconds * sample_rate)
        with self.pool.lock:
            pipe = self.pool.get(self.spec)
            native = int(pipe.vae.config.sampling_rate)
            longest = pipe.transformer.config.sample_size * pipe.vae.hop_length / native
            if seconds > longest:
                raise EngineError(
                    f"{self.name}: {seconds:g}s of audio asked, the model makes at most "
                    f"{longest:.1f}s ({self.audio.weights})"
                )
            try:
                output = pipe(
                    prompt,
                    audio_end_in_s=seconds,
                    num_inference_steps=self.audio.steps,
                    guidance_scale=self.audio.guidance,
                    generator=torch.Generator("cpu").manual_seed(seed & 0xFFFF_FFFF_FFFF_FFFF),
                    output_type="np",
                )
            except torch.cuda.OutOfMemoryError as exc:
                reset_pipeline(pipe)
                raise EngineError(f"out of GPU memory making {seconds:g}s of audio") from exc
            except Exception as exc:
                reset_pipeline(pipe)
                raise EngineError(f"{PIPELINE} failed: {type(exc).__name__}: {exc}") from exc
        return fit(np.asarray(output.audios[0], dtype=np.float32), native, sample_rate, length)


def fit(audio: Any, rate: int, target_rate: int, length: int) -> np.ndarray:
    """(channels, n) at ``rate`` -> stereo float32 (2, length) at ``target_rate`` in [-1, 1]."""
    audio = np.atleast_2d(audio)
    if audio.shape[0] == 1:
        audio = np.repeat(audio, 2, axis=0)
    audio = audio[:2]
    if rate != target_rate:
        from scipy.signal import resample_poly

        g = gcd(rate, target_rate)
        audio = resample_poly(audio, target_rate // g, rate // g, axis=1)
    out = np.zeros((2, length), dtype=np.float32)
    n = min(length, audio.shape[1])
    out[:, :n] = audio[:, :n]
    return np.clip(out, -1.0, 1.0)
