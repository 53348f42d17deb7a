"""What the profile readers share (video and picture models): the choices offered, the error a
bad profile raises, and the readers of one table field each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEVICES = ("auto", "cuda", "cpu")
DTYPES = ("auto", "bfloat16", "float16", "float32")
OFFLOADS = ("none", "model", "sequential", "group")


class ProfileError(ValueError):
    """A deployment profile that cannot work: raised at startup, naming file, model and fix."""


def _no_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ProfileError(
            f"{where}: unknown key(s) {', '.join(repr(k) for k in unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def _choice(t: dict[str, Any], key: str, allowed: tuple[str, ...], where: str, default: Any) -> Any:
    value = t.get(key, default)
    if value is not default and value not in allowed:
        raise ProfileError(f"{where}: {key} = {value!r}; expected one of {', '.join(allowed)}")
    return value


def _bool(t: dict[str, Any], key: str, where: str) -> bool:
    value = t.get(key, False)
    if not isinstance(value, bool):
        raise ProfileError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _int(t: dict[str, Any], key: str, where: str, minimum: int) -> int | None:
    value = t.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ProfileError(f"{where}: {key} must be an integer >= {minimum}, got {value!r}")
    return value


def _number(t: dict[str, Any], key: str, where: str, positive: bool = False) -> float | None:
    value = t.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or (positive and value <= 0):
        raise ProfileError(f"{where}: {key} must be a {'positive ' if positive else ''}number")
    return float(value)


def _path(value: str, source: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (source.parent / path).resolve()
