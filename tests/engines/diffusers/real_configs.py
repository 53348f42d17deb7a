"""The real component configs of every model the GPU guide names (``configs/*.json``), built at
full size on the ``meta`` device (no memory, no download) to count their parameters, and the
guide's parameter table generated from them.

    python tests/engines/diffusers/real_configs.py     # prints the table for the guide
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CONFIGS = Path(__file__).with_name("configs")
# transformers classes: the config class that goes with each model class
_TRANSFORMERS = {
    "UMT5EncoderModel": "UMT5Config",
    "T5EncoderModel": "T5Config",
    "CLIPVisionModel": "CLIPVisionConfig",
    "CLIPTextModel": "CLIPTextConfig",
    "LlamaModel": "LlamaConfig",
}
_LABELS = {"transformer": "transformer", "transformer_2": "transformer_2", "vae": "VAE"}


def names() -> list[str]:
    return sorted(p.stem for p in CONFIGS.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    return json.loads((CONFIGS / f"{name}.json").read_text())


def build_meta(config: dict[str, Any]) -> Any:
    """The component at full size on the meta device: shapes only."""
    import diffusers
    import torch
    import transformers

    config = dict(config)
    cls_name = config.pop("_class_name")
    with torch.device("meta"):
        if cls_name in _TRANSFORMERS:
            config_cls = getattr(transformers, _TRANSFORMERS[cls_name])
            return getattr(transformers, cls_name)(config_cls(**config))
        return getattr(diffusers, cls_name).from_config(config)


def parameters(config: dict[str, Any]) -> int:
    return sum(p.numel() for p in build_meta(config).parameters())


def counts(name: str) -> dict[str, int]:
    return {part: parameters(cfg) for part, cfg in load(name)["components"].items()}


def table() -> str:
    """Markdown: parameters and bfloat16 bytes of each component of each model."""
    lines = [
        "| model (config) | transformer(s) | text encoder(s) | VAE | all, bfloat16 |",
        "|---|---|---|---|---|",
    ]
    for name in names():
        parts = counts(name)
        denoise = sum(n for p, n in parts.items() if p.startswith("transformer"))
        text = sum(n for p, n in parts.items() if p.startswith(("text_encoder", "image_encoder")))
        vae = parts.get("vae", 0)

        def cell(n: int) -> str:
            return f"{n / 1e9:.2f}B, {2 * n / 1e9:.1f} GB" if n else "—"

        total = f"{2 * sum(parts.values()) / 1e9:.1f} GB"
        lines.append(f"| `{name}` | {cell(denoise)} | {cell(text)} | {cell(vae)} | {total} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
