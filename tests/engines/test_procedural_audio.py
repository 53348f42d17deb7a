"""Procedural audio: exact length, no clipping, deterministic, and shaped by the prompt."""

from __future__ import annotations

import numpy as np
import pytest

from openkling.engines.base import AudioEngine
from openkling.engines.procedural_audio import ProceduralAudio

CALM = "a calm lake at dawn, gentle mist"
RHYTHMIC = "a jazz band playing in a smoky club"
NOISY = "heavy rain on a tin roof"
PROMPTS = (CALM, RHYTHMIC, NOISY, "ocean waves on a beach", "crowd in a stadium", "a red fox")


@pytest.fixture(scope="module")
def audio() -> ProceduralAudio:
    return ProceduralAudio()


def transient_strength(x: np.ndarray, rate: int = 48000) -> float:
    """Mean rise of the 80 ms loudness envelope per 10 ms, relative to its level: beats rise."""
    power = x.mean(axis=0).astype(np.float64) ** 2
    hop, win = rate // 100, 8 * (rate // 100)
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    starts = np.arange(0, power.size - win, hop)
    envelope = np.sqrt((cumulative[starts + win] - cumulative[starts]) / win)
    return float(np.maximum(np.diff(envelope), 0).mean() / envelope.mean())


def tonal_concentration(x: np.ndarray) -> float:
    """Share of spectral power in the strongest 1% of bins: near 1 for chords, low for noise."""
    mono = x.mean(axis=0)
    frames = mono[: mono.size // 4096 * 4096].reshape(-1, 4096) * np.hanning(4096)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)
    top = np.sort(power)[::-1][: power.size // 100]
    return float(top.sum() / power.sum())


def test_it_is_an_audio_engine(audio):
    def check(engine: AudioEngine) -> str:
        return engine.name

    assert check(audio) == "procedural"


@pytest.mark.parametrize(
    ("seconds", "rate"), [(5.0, 48000), (10.0, 48000), (5.0417, 48000), (1.0, 44100), (0.01, 48000)]
)
def test_exact_length_stereo_float32(audio, seconds, rate):
    x = audio.render(RHYTHMIC, seconds, seed=1, sample_rate=rate)
    assert x.shape == (2, round(seconds * rate))
    assert x.dtype == np.float32


def test_zero_length(audio):
    assert audio.render(CALM, 0.0, seed=1).shape == (2, 0)


@pytest.mark.parametrize("prompt", PROMPTS)
def test_never_clips_and_fades(audio, prompt):
    x = audio.render(prompt, 5.0, seed=3)
    assert np.isfinite(x).all()
    assert 0.3 < np.abs(x).max() < 1.0
    assert np.abs(x[:, 0]).max() == 0 and np.abs(x[:, -1]).max() < 1e-6
    edge = np.sqrt((x[:, :240] ** 2).mean())  # first 5 ms
    middle = np.sqrt((x[:, 100_000:140_000] ** 2).mean())
    assert edge < 0.5 * middle


def test_deterministic_per_prompt_and_seed(audio):
    a = audio.render(NOISY, 2.0, seed=5)
    assert np.array_equal(a, audio.render(NOISY, 2.0, seed=5))
    assert not np.allclose(a, audio.render(NOISY, 2.0, seed=6))
    assert not np.allclose(a, audio.render(NOISY + " at night", 2.0, seed=5))


def test_left_and_right_differ(audio):
    x = audio.render(NOISY, 2.0, seed=1)
    assert not np.allclose(x[0], x[1])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rhythmic_words_bring_a_beat(audio, seed):
    beat = transient_strength(audio.render(RHYTHMIC, 5.0, seed))
    calm = transient_strength(audio.render(CALM, 5.0, seed))
    assert beat > 2 * calm


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noisy_words_bring_noise_and_calm_words_tones(audio, seed):
    calm = tonal_concentration(audio.render(CALM, 5.0, seed))
    for prompt in (NOISY, "ocean waves on a beach", "crowd in a stadium"):
        noisy = tonal_concentration(audio.render(prompt, 5.0, seed))
        assert calm > 0.9
        assert noisy < calm - 0.4, prompt
