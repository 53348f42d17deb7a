"""What the commands share: the settings a command runs with (the environment's, overridden by
its options)."""

from __future__ import annotations

from pathlib import Path

from ..config import Settings


def load_settings(data_dir: Path | None, **overrides: object) -> Settings:
    """``Settings()`` with ``data_dir`` and the options that were given (``None``: not given)."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)  # type: ignore[arg-type]  # names checked by pydantic at run time
