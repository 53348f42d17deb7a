"""Procedural soundtracks shaped by the prompt: pads, beats and filtered noise, numpy only."""

from __future__ import annotations

import hashlib

import numpy as np

RHYTHM_WORDS = {
    "dance",
    "dancing",
    "dancer",
    "dancers",
    "drum",
    "drums",
    "drummer",
    "jazz",
    "band",
    "party",
    "club",
    "beat",
    "beats",
    "music",
    "concert",
    "festival",
    "march",
    "marching",
    "rock",
    "disco",
    "techno",
    "hip",
    "hop",
    "rave",
    "running",
    "parade",
    "samba",
    "funk",
    "song",
    "guitar",
}
NOISE_WORDS = {
    "rain",
    "raining",
    "rainy",
    "storm",
    "stormy",
    "thunder",
    "crowd",
    "crowds",
    "ocean",
    "sea",
    "waves",
    "wave",
    "surf",
    "beach",
    "wind",
    "windy",
    "river",
    "waterfall",
    "stream",
    "traffic",
    "city",
    "street",
    "fire",
    "campfire",
    "market",
    "stadium",
    "applause",
    "shower",
    "snowstorm",
}
DARK_WORDS = {"night", "dark", "storm", "sad", "rain", "horror", "fog", "shadow", "winter", "alone"}
CALM_WORDS = {"calm", "gentle", "soft", "peaceful", "quiet", "serene", "sleep", "slow", "dream"}

MAJOR = (0, 4, 7, 11, 14)
MINOR = (0, 3, 7, 10, 14)
PEAK = 0.8  # the loudest sample; leaves headroom for the AAC encoder's overshoot


def _words(text: str) -> set[str]:
    return {"".join(ch for ch in w.lower() if ch.isalnum()) for w in text.split()}


def _rng(prompt: str, seed: int, part: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{part}\x00{prompt}\x00{seed}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _shaped_noise(
    rng: np.random.Generator, n: int, rate: int, low: float, high: float
) -> np.ndarray:
    """White noise band-passed in the frequency domain (smooth, click-free edges)."""
    spectrum = np.fft.rfft(rng.standard_normal(n).astype(np.float32))
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    gain = 1.0 / (1.0 + (low / np.maximum(freqs, 1.0)) ** 4) / (1.0 + (freqs / high) ** 4)
    out = np.fft.irfft(spectrum * gain, n).astype(np.float32)
    return out / (np.abs(out).max() + 1e-9)


def _slow_wobble(
    rng: np.random.Generator, t: np.ndarray, period: float, depth: float
) -> np.ndarray:
    phase = rng.uniform(0, 2 * np.pi)
    return (1.0 - depth) + depth * 0.5 * (1 + np.sin(2 * np.pi * t / period + phase))


class ProceduralAudio:
    """Calm words -> soft pads, rhythmic words -> a beat, noisy words -> filtered noise."""

    name = "procedural"

    def render(
        self, prompt: str, seconds: float, seed: int, sample_rate: int = 48000
    ) -> np.ndarray:
        if seconds < 0 or sample_rate <= 0:
            raise ValueError(f"need seconds >= 0 and sample_rate > 0, got {seconds}, {sample_rate}")
        n = round(seconds * sample_rate)
        if n == 0:
            return np.zeros((2, 0), np.float32)
        words = _words(prompt)
        rhythmic = bool(words & RHYTHM_WORDS)
        noisy = bool(words & NOISE_WORDS)
        calm = bool(words & CALM_WORDS) or not (rhythmic or noisy)
        t = np.arange(n, dtype=np.float32) / sample_rate
        rng = _rng(prompt, seed, "music")
        root = 110.0 * 2 ** (int(rng.integers(0, 12)) / 12)  # A2 .. G#3
        scale = MINOR if words & DARK_WORDS else MAJOR

        left = np.zeros(n, np.float32)
        right = np.zeros(n, np.float32)
        pad_level = 0.5 if calm else 0.22
        pad_l, pad_r = _pads(rng, t, root, scale, sample_rate)
        left += pad_level * pad_l
        right += pad_level * pad_r
        if rhythmic:
            beat_l, beat_r = _beat(_rng(prompt, seed, "beat"), n, sample_rate, root)
            left += 0.75 * beat_l
            right += 0.75 * beat_r
        if noisy:
            noise_l, noise_r = _ambience(_rng(prompt, seed, "noise"), words, t, sample_rate)
            left += 0.7 * noise_l
            right += 0.7 * noise_r

        audio = np.stack([left, right])
        audio *= PEAK / (np.abs(audio).max() + 1e-9)
        fade_in, fade_out = min(n, int(0.03 * sample_rate)), min(n, int(0.25 * sample_rate))
        audio[:, :fade_in] *= np.linspace(0.0, 1.0, fade_in, dtype=np.float32)
        audio[:, n - fade_out :] *= np.linspace(1.0, 0.0, fade_out, dtype=np.float32)
        return audio.astype(np.float32)


def _pads(
    rng: np.random.Generator, t: np.ndarray, root: float, scale: tuple[int, ...], rate: int
) -> tuple[np.ndarray, np.ndarray]:
    """Slowly changing chords of detuned sines, crossfaded with raised-cosine windows."""
    n = t.size
    bar = float(rng.uniform(2.0, 3.5))  # seconds per chord
    steps = (0, 5, 3, 4, 0, 7, 5, 4)  # scale degrees of the chord roots
    offset = int(rng.integers(0, len(steps)))
    left = np.zeros(n, np.float32)
    right = np.zeros(n, np.float32)
    hop = int(bar * rate)
    for k, start in enumerate(range(-hop, n, hop)):
        lo, hi = max(0, start), min(n, start + 2 * hop)
        if lo >= hi:
            continue
        seg = t[lo:hi]
        window = np.sin(np.pi * (np.arange(lo, hi) - start) / (2 * hop)) ** 2
        degree = steps[(k + offset) % len(steps)]
        chord_root = root * 2 ** (degree / 12)
        for i, interval in enumerate(scale[:4]):
            f = chord_root * 2 ** (interval / 12)
            detune = 1.0 + 0.002 * (i + 1)
            pan = 0.5 + 0.3 * np.sin(i * 1.7)
            tone = np.sin(2 * np.pi * f * seg) + 0.5 * np.sin(2 * np.pi * f * detune * seg + i)
            tone *= window / (i + 1.5)
            left[lo:hi] += (1 - pan) * tone
            right[lo:hi] += pan * tone
    swell = _slow_wobble(rng, t, float(rng.uniform(5, 9)), 0.4)
    return left * swell, right * swell


def _beat(
    rng: np.random.Generator, n: int, rate: int, root: float
) -> tuple[np.ndarray, np.ndarray]:
    """Kick, snare and hi-hat on a 4/4 grid at a tempo from the prompt and seed."""
    bpm = float(rng.uniform(92, 128))
    beat = 60.0 / bpm
    length = int(0.25 * rate)
    tt = np.arange(length, dtype=np.float32) / rate
    sweep = 2 * np.pi * (45 * tt + (root * 1.2 - 45) * (1 - np.exp(-tt * 30)) / 30)
    kick = np.sin(sweep) * np.exp(-tt * 14)
    noise = rng.standard_normal(length).astype(np.float32)
    snare = (0.6 * noise + 0.4 * np.sin(2 * np.pi * 190 * tt)) * np.exp(-tt * 22)
    hat = np.diff(noise, prepend=0.0) * np.exp(-tt * 90) * 0.35
    left = np.zeros(n + length, np.float32)
    right = np.zeros(n + length, np.float32)
    eighth = 0
    while (start := int(eighth * beat / 2 * rate)) < n:
        on_beat = eighth % 2 == 0
        quarter = eighth // 2
        hits = [(hat, 0.35, 0.65) if eighth % 2 else (hat, 0.6, 0.4)]
        if on_beat and quarter % 2 == 0:
            hits.append((kick, 1.0, 1.0))
        if on_beat and quarter % 2 == 1:
            hits.append((snare, 0.7, 0.8))
        for sound, gl, gr in hits:
            left[start : start + length] += gl * sound
            right[start : start + length] += gr * sound
        eighth += 1
    return left[:n], right[:n]


def _ambience(
    rng: np.random.Generator, words: set[str], t: np.ndarray, rate: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rain hiss, ocean swell, wind gusts or crowd murmur: band-passed noise, slowly moving."""
    n = t.size
    if words & {"ocean", "sea", "waves", "wave", "surf", "beach", "river", "waterfall", "stream"}:
        band, period, depth = (80.0, 1500.0), float(rng.uniform(5, 8)), 0.8
    elif words & {"crowd", "crowds", "market", "stadium", "applause", "city", "street", "traffic"}:
        band, period, depth = (250.0, 3500.0), float(rng.uniform(1.5, 3)), 0.35
    elif words & {"wind", "windy", "snowstorm", "storm", "stormy", "thunder"}:
        band, period, depth = (150.0, 2500.0), float(rng.uniform(3, 6)), 0.7
    else:  # rain, fire, showers: a bright hiss
        band, period, depth = (900.0, 9000.0), float(rng.uniform(4, 7)), 0.2
    left = _shaped_noise(rng, n, rate, *band)
    right = _shaped_noise(rng, n, rate, *band)
    left *= _slow_wobble(rng, t, period, depth)
    right *= _slow_wobble(rng, t, period * 1.1, depth)
    if words & {"rain", "raining", "rainy", "storm", "shower", "fire", "campfire"}:
        drops = np.zeros(n, np.float32)  # droplets / crackles: sparse clicks, softened
        count = max(1, int(n / rate * 40))
        drops[rng.integers(0, n, count)] = rng.uniform(-1, 1, count).astype(np.float32)
        drops = np.convolve(drops, np.exp(-np.arange(96) / 12.0).astype(np.float32))[:n]
        left += 0.6 * drops
        right += 0.6 * np.roll(drops, 37)
    return left, right
