"""Deployment profiles: which engine, weights and knobs serve each Kling model (a TOML file)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..domain.vocabulary import ALL_MODEL_NAMES, ASPECT_RATIOS, MODES
from .profile_fields import (
    DEVICES,
    DTYPES,
    OFFLOADS,
    ProfileError,
    _bool,
    _choice,
    _int,
    _no_unknown,
    _number,
    _path,
)

if TYPE_CHECKING:
    from .picture_profiles import PictureProfile

ENGINES = ("synthetic", "diffusers")
FAMILIES = ("wan", "wan2.2", "ltx", "cogvideox", "hunyuan")
QUANTIZE = ("fp8", "int8")
LORA_TARGETS = ("transformer", "transformer_2", "both")
LONG_VIDEO = ("segments", "refuse")
# schedulers a profile may name, and whether each takes a flow shift (its config key)
SCHEDULERS: dict[str, str | None] = {
    "UniPCMultistepScheduler": "flow_shift",
    "DPMSolverMultistepScheduler": "flow_shift",
    "FlowMatchEulerDiscreteScheduler": "shift",
    "CogVideoXDPMScheduler": None,
    "CogVideoXDDIMScheduler": None,
}
# families whose transformer has a context-parallel plan in diffusers 0.42 (``_cp_plan``)
PARALLEL_FAMILIES = ("wan", "wan2.2", "ltx")
# families that run CFG's two passes separately: a cache shared across them breaks CFG
SEPARATE_CFG_PASSES = ("wan", "wan2.2")
AUDIO_ENGINES = ("procedural", "stable-audio")

# cache type -> its options and their defaults (diffusers.hooks configs)
CACHE_TYPES: dict[str, dict[str, Any]] = {
    "first_block": {"threshold": 0.05},
    "pyramid_attention_broadcast": {"block_skip_range": 2, "timestep_skip_range": [100, 800]},
    "taylorseer": {
        "cache_interval": 5,
        "disable_cache_before_step": 3,
        "lite": False,
        "memory_gb": 20.0,  # refused at startup when the cache would need more
    },
}

_TOP_KEYS = {"models", "max_loaded_pipelines", "images"}
_SYNTHETIC_KEYS = {"engine", "audio", "prices"}
_DIFFUSERS_KEYS = _SYNTHETIC_KEYS | {
    "family",
    "weights",
    "resolution",
    "steps",
    "guidance",
    "guidance_2",
    "fps",
    "device",
    "dtype",
    "cpu_offload",
    "offload",
    "vae_tiling",
    "vae_slicing",
    "cache",
    "compile",
    "pipeline_args",
    "i2v",
    "references",
    "scheduler",
    "negative_prompt",
    "vae_dtype",
    "loras",
    "quantize",
    "devices",
    "parallel",
    "max_frames",
    "long_video",
}
# an [models."<name>".i2v] table: the image-to-video pipeline of a model, with its own weights
I2V_FAMILIES = ("wan", "wan2.2", "ltx", "cogvideox")
_I2V_KEYS = {
    "family",
    "weights",
    "resolution",
    "steps",
    "guidance",
    "guidance_2",
    "fps",
    "end_frame",
    "pipeline_args",
    "max_frames",
}
# pipeline call arguments the engine fills in itself
_SET_BY_OPENKLING = {
    "prompt",
    "negative_prompt",
    "width",
    "height",
    "num_frames",
    "num_inference_steps",
    "guidance_scale",
    "guidance_scale_2",
    "frame_rate",
    "generator",
    "output_type",
    "callback_on_step_end",
    "return_dict",
    "image",
    "last_image",
    "reference_images",
}
# a [models."<name>".references] table: the pipeline that puts reference pictures in a video
REFERENCE_FAMILIES = ("wan",)  # Wan VACE (WanVACEPipeline, reference_images)
_REFERENCE_KEYS = {"family", "weights", "resolution", "steps", "guidance", "fps", "pipeline_args"}
_AUDIO_KEYS = {"engine", "weights", "steps", "guidance", "device", "dtype"}


@dataclass(frozen=True)
class CacheSpec:
    type: str
    options: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str) -> Any:
        return dict(self.options)[key]


@dataclass(frozen=True)
class LoraSpec:
    """One ``loras`` entry: a LoRA file, its strength and the denoiser(s) it adapts."""

    path: Path
    scale: float = 1.0
    target: str = "transformer"  # "transformer" | "transformer_2" | "both"


@dataclass(frozen=True)
class SchedulerSpec:
    name: str
    flow_shift: float | None = None


@dataclass(frozen=True)
class AudioProfile:
    engine: str  # "procedural" | "stable-audio"
    weights: Path | None = None
    steps: int = 100
    guidance: float = 7.0
    device: str = "auto"
    dtype: str = "auto"


@dataclass(frozen=True)
class ImageProfile:
    """One ``[models."<name>".i2v]`` table: the model's image-to-video pipeline."""

    family: str
    weights: Path
    resolution: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    steps: int | None = None
    guidance: tuple[float, float] | None = None
    guidance_2: tuple[float, float] | None = None
    fps: float | None = None
    end_frame: bool = False  # the weights take a last frame too (Wan FLF2V, Wan 2.2 A14B I2V)
    pipeline_args: dict[str, Any] = field(default_factory=dict)
    max_frames: int | None = None


@dataclass(frozen=True)
class ModelProfile:
    """One ``[models."<kling model name>"]`` table, validated and with defaults filled in."""

    model: str
    source: Path
    engine: str
    family: str | None = None
    weights: Path | None = None
    resolution: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    steps: int | None = None
    guidance: tuple[float, float] | None = None
    guidance_2: tuple[float, float] | None = None
    fps: float | None = None
    device: str = "auto"
    dtype: str = "auto"
    cpu_offload: str = "none"
    vae_tiling: bool = False
    vae_slicing: bool = False
    cache: CacheSpec | None = None
    compile: bool = False
    pipeline_args: dict[str, Any] = field(default_factory=dict)
    audio: AudioProfile | None = None
    audio_set: bool = False  # False: the catalog's default audio capability stands
    prices: dict[tuple[str, int], float] | None = None
    i2v: ImageProfile | None = None  # None: this model takes no image input
    references: ImageProfile | None = None  # None: no reference images (multi-image2video)
    scheduler: SchedulerSpec | None = None  # None: the weights' own scheduler
    negative_prompt: str | None = None  # the default when a request gives none
    vae_dtype: str | None = None  # None: the pipeline's dtype
    loras: tuple[LoraSpec, ...] = ()
    quantize: str | None = None  # "fp8" | "int8" (torchao), the denoisers only
    devices: tuple[str, ...] = ()  # more than one: one rank per device, context parallel
    parallel: tuple[str, int] | None = None  # ("ulysses" | "ring", degree)
    max_frames: int | None = None  # None: the family's trained length
    long_video: str = "refuse"  # beyond max_frames: "segments" or "refuse"

    @property
    def text2video(self) -> bool:
        """Whether the model renders from text: a synthetic engine, or diffusers weights."""
        return self.engine == "synthetic" or self.weights is not None

    def for_images(self) -> ModelProfile:
        """This profile with the i2v table's family, weights and knobs in place of its own."""
        assert self.i2v is not None
        i = self.i2v
        return replace(
            self,
            family=i.family,
            weights=i.weights,
            resolution=i.resolution,
            steps=i.steps,
            guidance=i.guidance,
            guidance_2=i.guidance_2,
            fps=i.fps,
            pipeline_args=i.pipeline_args,
            max_frames=i.max_frames,
        )

    def for_references(self) -> ModelProfile:
        """This profile with the references table's weights and knobs in place of its own."""
        assert self.references is not None
        r = self.references
        return replace(
            self,
            family=r.family,
            weights=r.weights,
            resolution=r.resolution,
            steps=r.steps,
            guidance=r.guidance,
            guidance_2=None,
            fps=r.fps,
            pipeline_args=r.pipeline_args,
            loras=(),  # the text model's LoRAs are not for the VACE weights
            max_frames=None,
        )

    @property
    def where(self) -> str:
        return f'{self.source}: [models."{self.model}"]'

    def error(self, message: str) -> ProfileError:
        return ProfileError(f"{self.where}: {message}")


@dataclass(frozen=True)
class Profiles:
    source: Path
    models: dict[str, ModelProfile]
    max_loaded_pipelines: int = 1
    # [images."<model>"]: the image models' engines (see picture_profiles)
    images: dict[str, PictureProfile] = field(default_factory=dict)


def load_profiles(path: Path | str) -> Profiles:
    """Parse and check a profile file. Weight directories are checked by the engines."""
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"{path}: profile file not found (set by OPENKLING_PROFILES_FILE)")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from exc
    _no_unknown(data, _TOP_KEYS, str(path))
    max_loaded = data.get("max_loaded_pipelines", 1)
    if not isinstance(max_loaded, int) or isinstance(max_loaded, bool) or max_loaded < 1:
        raise ProfileError(
            f"{path}: max_loaded_pipelines must be an integer >= 1, got {max_loaded!r}"
        )
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise ProfileError(f'{path}: "models" must be a table of [models."<model name>"] tables')
    parsed = {}
    for name, table in models.items():
        if name not in ALL_MODEL_NAMES:
            raise ProfileError(
                f'{path}: [models."{name}"]: unknown Kling model name; expected one of '
                + ", ".join(ALL_MODEL_NAMES)
            )
        if not isinstance(table, dict):
            raise ProfileError(f'{path}: [models."{name}"] must be a table')
        parsed[name] = _model(name, table, path)
    from .picture_profiles import load_picture_profiles

    images = load_picture_profiles(data.get("images", {}), path)
    return Profiles(source=path, models=parsed, max_loaded_pipelines=max_loaded, images=images)


def _model(name: str, t: dict[str, Any], source: Path) -> ModelProfile:
    where = f'{source}: [models."{name}"]'
    engine = _choice(t, "engine", ENGINES, where, default=None)
    if engine is None:
        raise ProfileError(f'{where}: "engine" is required: one of {", ".join(ENGINES)}')
    _no_unknown(t, _SYNTHETIC_KEYS if engine == "synthetic" else _DIFFUSERS_KEYS, where)
    common: dict[str, Any] = {"model": name, "source": source, "engine": engine}
    if "audio" in t:
        common["audio"] = _audio(t["audio"], source, where)
        common["audio_set"] = True
    if "prices" in t:
        common["prices"] = _prices(t["prices"], where)
    if engine == "synthetic":
        return ModelProfile(**common)

    family = _choice(t, "family", FAMILIES, where, default=None)
    if family is None:
        raise ProfileError(f'{where}: "family" is required: one of {", ".join(FAMILIES)}')
    i2v = _i2v(t["i2v"], family, source, f"{where}.i2v") if "i2v" in t else None
    references = None
    if "references" in t:
        references = _references(t["references"], source, f"{where}.references")
    if "weights" in t and (not isinstance(t["weights"], str) or not t["weights"]):
        raise ProfileError(f'{where}: "weights" must be the directory of a diffusers pipeline')
    if "weights" not in t and i2v is None and references is None:
        raise ProfileError(
            f'{where}: "weights" is required: the directory of a diffusers pipeline (it may be '
            "left out only when an [i2v] table gives image-to-video weights)"
        )
    guidance_2 = _range(t, "guidance_2", where)
    if guidance_2 is not None and family != "wan2.2":
        raise ProfileError(
            f'{where}: "guidance_2" is only for family "wan2.2" (its low-noise stage)'
        )
    if "offload" in t and "cpu_offload" in t:
        raise ProfileError(f'{where}: set "offload" or its older name "cpu_offload", not both')
    offload_key = "offload" if "offload" in t else "cpu_offload"
    cpu_offload = _choice(t, offload_key, OFFLOADS, where, "none")
    device = _choice(t, "device", DEVICES, where, "auto")
    devices, parallel = _devices(t, where)
    if devices and "device" in t:
        raise ProfileError(f'{where}: set "device" or "devices", not both')
    on_cpu = device == "cpu" or (devices and all(d == "cpu" for d in devices))
    if on_cpu and cpu_offload != "none":
        raise ProfileError(
            f'{where}: {offload_key} = "{cpu_offload}" needs a GPU, but the device is the CPU'
        )
    cache = _cache(t.get("cache", "none"), where)
    families = [family] + ([i2v.family] if i2v is not None else [])
    if len(devices) > 1:
        for f in families:
            if f not in PARALLEL_FAMILIES:
                raise ProfileError(
                    f'{where}: devices = {list(devices)}: family "{f}" has no context-parallel '
                    f"plan in diffusers; one job across several devices works for "
                    f"{', '.join(PARALLEL_FAMILIES)}. Use one device per worker instead"
                )
        for key, off in (("offload", cpu_offload != "none"), ("cache", cache is not None),
                         ("compile", bool(t.get("compile")))):  # fmt: skip
            if off:
                raise ProfileError(
                    f"{where}: {key} cannot be combined with devices = {list(devices)} "
                    "(context parallelism runs each rank's share resident and uncached)"
                )
    if cache is not None and cache.type == "pyramid_attention_broadcast":
        args_cfg = t.get("pipeline_args", {}) if isinstance(t.get("pipeline_args"), dict) else {}
        true_cfg = args_cfg.get("true_cfg_scale", 1.0)
        separate = [f for f in families if f in SEPARATE_CFG_PASSES]
        if family == "hunyuan" and isinstance(true_cfg, int | float) and true_cfg > 1:
            separate.append("hunyuan with true_cfg_scale > 1")
        if separate:
            raise ProfileError(
                f"{where}: cache type pyramid_attention_broadcast shares one attention cache "
                f"across CFG's separate conditional and unconditional passes of "
                f"{', '.join(separate)}, which breaks guidance; use first_block or taylorseer"
            )
    loras = _loras(t.get("loras", []), source, where)
    if any(lora.target != "transformer" for lora in loras) and family != "wan2.2":
        raise ProfileError(
            f'{where}: loras target "transformer_2" / "both" needs family "wan2.2" '
            "(the A14B weights have a transformer_2)"
        )
    quantize = _choice(t, "quantize", QUANTIZE, where, None)
    if quantize == "fp8" and on_cpu:
        raise ProfileError(
            f'{where}: quantize = "fp8" needs a CUDA GPU with fp8 support (compute capability '
            '8.9 or newer); on the CPU use quantize = "int8" or none'
        )
    negative = t.get("negative_prompt")
    if negative is not None and not isinstance(negative, str):
        raise ProfileError(f"{where}: negative_prompt must be a string")
    long_video = _choice(t, "long_video", LONG_VIDEO, where, None)
    if long_video == "segments" and i2v is None:
        raise ProfileError(
            f'{where}: long_video = "segments" continues each segment from the last frame '
            "through the model's image-to-video pipeline: add an [i2v] table, or set "
            'long_video = "refuse"'
        )
    args = t.get("pipeline_args", {})
    if not isinstance(args, dict):
        raise ProfileError(
            f'{where}: "pipeline_args" must be a table of pipeline keyword arguments'
        )
    taken = sorted(set(args) & _SET_BY_OPENKLING)
    if taken:
        raise ProfileError(
            f"{where}: pipeline_args {', '.join(taken)} are set by openkling from the request "
            "and the profile (steps, guidance, guidance_2, fps, resolution)"
        )
    return ModelProfile(
        **common,
        family=family,
        weights=_path(t["weights"], source) if "weights" in t else None,
        resolution=_resolution(t.get("resolution", {}), where),
        i2v=i2v,
        references=references,
        steps=_int(t, "steps", where, minimum=1),
        guidance=_range(t, "guidance", where),
        guidance_2=guidance_2,
        fps=_number(t, "fps", where, positive=True),
        device=device,
        dtype=_choice(t, "dtype", DTYPES, where, "auto"),
        cpu_offload=cpu_offload,
        vae_tiling=_bool(t, "vae_tiling", where),
        vae_slicing=_bool(t, "vae_slicing", where),
        cache=cache,
        compile=_bool(t, "compile", where),
        pipeline_args=dict(args),
        scheduler=_scheduler(t.get("scheduler"), where),
        negative_prompt=negative,
        vae_dtype=_choice(t, "vae_dtype", DTYPES[1:], where, None),
        loras=loras,
        quantize=quantize,
        devices=devices,
        parallel=parallel,
        max_frames=_int(t, "max_frames", where, minimum=1),
        long_video=long_video or ("segments" if i2v is not None else "refuse"),
    )


def _i2v(value: Any, model_family: str, source: Path, where: str) -> ImageProfile:
    if not isinstance(value, dict):
        raise ProfileError(
            f'{where} must be a table like {{ weights = "...", family = "wan" }}: the '
            "image-to-video pipeline's weights and knobs"
        )
    _no_unknown(value, _I2V_KEYS, where)
    default = model_family if model_family in I2V_FAMILIES else None
    family = _choice(value, "family", I2V_FAMILIES, where, default=default)
    if family is None:
        raise ProfileError(
            f'{where}: "family" is required (the model\'s family {model_family!r} has no '
            f"image-to-video pipeline): one of {', '.join(I2V_FAMILIES)}"
        )
    if not isinstance(value.get("weights"), str) or not value["weights"]:
        raise ProfileError(
            f'{where}: "weights" is required: the directory of a diffusers image-to-video '
            "pipeline (WanImageToVideoPipeline, LTXPipeline, CogVideoXImageToVideoPipeline)"
        )
    args = value.get("pipeline_args", {})
    if not isinstance(args, dict):
        raise ProfileError(f'{where}: "pipeline_args" must be a table of keyword arguments')
    taken = sorted(set(args) & _SET_BY_OPENKLING)
    if taken:
        raise ProfileError(f"{where}: pipeline_args {', '.join(taken)} are set by openkling")
    end_frame = _bool(value, "end_frame", where)
    if end_frame and family not in ("wan", "wan2.2"):
        raise ProfileError(
            f"{where}: end_frame = true needs a Wan first-last-frame pipeline (family wan or "
            f"wan2.2); {family} takes a first frame only"
        )
    guidance_2 = _range(value, "guidance_2", where)
    if guidance_2 is not None and family != "wan2.2":
        raise ProfileError(
            f'{where}: "guidance_2" is only for family "wan2.2" (its low-noise stage)'
        )
    return ImageProfile(
        family=family,
        weights=_path(value["weights"], source),
        resolution=_resolution(value.get("resolution", {}), where),
        steps=_int(value, "steps", where, minimum=1),
        guidance=_range(value, "guidance", where),
        guidance_2=guidance_2,
        max_frames=_int(value, "max_frames", where, minimum=1),
        fps=_number(value, "fps", where, positive=True),
        end_frame=end_frame,
        pipeline_args=dict(args),
    )


def _references(value: Any, source: Path, where: str) -> ImageProfile:
    if not isinstance(value, dict):
        raise ProfileError(
            f'{where} must be a table like {{ weights = "..." }}: a Wan VACE pipeline that '
            "puts reference pictures into the video"
        )
    _no_unknown(value, _REFERENCE_KEYS, where)
    family = _choice(value, "family", REFERENCE_FAMILIES, where, default="wan")
    if not isinstance(value.get("weights"), str) or not value["weights"]:
        raise ProfileError(
            f'{where}: "weights" is required: the directory of a diffusers WanVACEPipeline'
        )
    args = value.get("pipeline_args", {})
    if not isinstance(args, dict):
        raise ProfileError(f'{where}: "pipeline_args" must be a table of keyword arguments')
    taken = sorted(set(args) & _SET_BY_OPENKLING)
    if taken:
        raise ProfileError(f"{where}: pipeline_args {', '.join(taken)} are set by openkling")
    return ImageProfile(
        family=family,
        weights=_path(value["weights"], source),
        resolution=_resolution(value.get("resolution", {}), where),
        steps=_int(value, "steps", where, minimum=1),
        guidance=_range(value, "guidance", where),
        fps=_number(value, "fps", where, positive=True),
        pipeline_args=dict(args),
    )


def _range(t: dict[str, Any], key: str, where: str) -> tuple[float, float] | None:
    value = t.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value, value]
    ok = isinstance(value, list) and len(value) == 2
    ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    if not ok or not 0 <= value[0] <= value[1]:
        raise ProfileError(f"{where}: {key} must be [min, max] with 0 <= min <= max, got {value!r}")
    return float(value[0]), float(value[1])


def _resolution(value: Any, where: str) -> dict[str, dict[str, tuple[int, int]]]:
    if not isinstance(value, dict):
        raise ProfileError(
            f'{where}: "resolution" must be a table like std = {{"16:9" = [832, 480]}}'
        )
    _no_unknown(value, set(MODES), f"{where}.resolution")
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for mode, ratios in value.items():
        if not isinstance(ratios, dict):
            raise ProfileError(
                f'{where}: resolution.{mode} must be a table like {{"16:9" = [832, 480]}}'
            )
        _no_unknown(ratios, set(ASPECT_RATIOS), f"{where}.resolution.{mode}")
        out[mode] = {}
        for ratio, size in ratios.items():
            ok = isinstance(size, list) and len(size) == 2
            if not ok or not all(isinstance(v, int) and not isinstance(v, bool) for v in size):
                raise ProfileError(
                    f'{where}: resolution.{mode}."{ratio}" must be [width, height] in pixels, '
                    f"got {size!r}"
                )
            out[mode][ratio] = (size[0], size[1])
    return out


def _cache(value: Any, where: str) -> CacheSpec | None:
    if value in ("none", None, False):
        return None
    if not isinstance(value, dict) or value.get("type") not in CACHE_TYPES:
        raise ProfileError(
            f'{where}: cache must be "none" or {{type = ..., ...}} with type one of '
            f"{', '.join(CACHE_TYPES)}; got {value!r}"
        )
    defaults = CACHE_TYPES[value["type"]]
    _no_unknown(value, {"type", *defaults}, f"{where}.cache")
    options = {**defaults, **{k: v for k, v in value.items() if k != "type"}}
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))
    return CacheSpec(type=value["type"], options=frozen)


def _devices(t: dict[str, Any], where: str) -> tuple[tuple[str, ...], tuple[str, int] | None]:
    value = t.get("devices")
    if value is None:
        if "parallel" in t:
            raise ProfileError(f'{where}: "parallel" needs "devices" naming more than one device')
        return (), None
    ok = isinstance(value, list) and value and all(isinstance(d, str) for d in value)
    if not ok or not all(d == "cpu" or d == "cuda" or _cuda_index(d) for d in value):
        raise ProfileError(
            f'{where}: devices must be a list like ["cuda:0", "cuda:1"] (or ["cpu", "cpu"] '
            f"to try it without a GPU), got {value!r}"
        )
    if len(set(value)) < len(value) and any(d != "cpu" for d in value):
        raise ProfileError(f"{where}: devices = {value!r} names a GPU twice")
    devices = tuple(value)
    parallel = t.get("parallel")
    if len(devices) == 1:
        if parallel is not None:
            raise ProfileError(f'{where}: "parallel" needs more than one device in "devices"')
        return devices, None
    if (
        not isinstance(parallel, dict)
        or len(parallel) != 1
        or not set(parallel)
        <= {
            "ulysses",
            "ring",
        }
    ):
        raise ProfileError(
            f"{where}: devices names {len(devices)} devices: set parallel = "
            f"{{ ulysses = {len(devices)} }} or {{ ring = {len(devices)} }}, got {parallel!r}"
        )
    ((kind, degree),) = parallel.items()
    if degree != len(devices) or isinstance(degree, bool):
        raise ProfileError(
            f"{where}: parallel.{kind} = {degree!r} must equal the number of devices "
            f"({len(devices)})"
        )
    if kind == "ring" and any(d == "cpu" for d in devices):
        raise ProfileError(
            f"{where}: parallel.ring needs CUDA devices: ring attention takes an attention "
            "kernel that returns log-sum-exp (cuDNN or flash), which the CPU has not; use "
            f"parallel = {{ ulysses = {degree} }} on the CPU"
        )
    return devices, (kind, degree)


def _cuda_index(device: str) -> bool:
    kind, _, index = device.partition(":")
    return kind == "cuda" and index.isdigit()


def _scheduler(value: Any, where: str) -> SchedulerSpec | None:
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("name") not in SCHEDULERS:
        raise ProfileError(
            f'{where}: scheduler must be {{ name = "UniPCMultistepScheduler", flow_shift = 5.0 '
            f"}} with name one of {', '.join(SCHEDULERS)}; got {value!r}"
        )
    _no_unknown(value, {"name", "flow_shift"}, f"{where}.scheduler")
    shift = _number(value, "flow_shift", f"{where}.scheduler", positive=True)
    if shift is not None and SCHEDULERS[value["name"]] is None:
        raise ProfileError(f"{where}: scheduler {value['name']} takes no flow_shift")
    return SchedulerSpec(name=value["name"], flow_shift=shift)


def _loras(value: Any, source: Path, where: str) -> tuple[LoraSpec, ...]:
    if not isinstance(value, list):
        raise ProfileError(
            f'{where}: loras must be a list like [{{ path = "/models/x.safetensors", '
            'scale = 1.0, target = "transformer" }]'
        )
    out = []
    for i, item in enumerate(value):
        w = f"{where}.loras[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not item["path"]:
            raise ProfileError(f'{w}: needs path = "<a LoRA .safetensors file>"')
        _no_unknown(item, {"path", "scale", "target"}, w)
        scale = _number(item, "scale", w)
        target = _choice(item, "target", LORA_TARGETS, w, "transformer")
        out.append(
            LoraSpec(
                path=_path(item["path"], source),
                scale=1.0 if scale is None else scale,
                target=target,
            )  # fmt: skip
        )
    return tuple(out)


def _audio(value: Any, source: Path, where: str) -> AudioProfile | None:
    if value is False:
        return None
    if value is True:
        return AudioProfile(engine="procedural")
    if not isinstance(value, dict):
        raise ProfileError(
            f'{where}: audio must be false, true or {{engine = "stable-audio", ...}}'
        )
    w = f"{where}.audio"
    _no_unknown(value, _AUDIO_KEYS, w)
    engine = _choice(value, "engine", AUDIO_ENGINES, w, default=None)
    if engine is None:
        raise ProfileError(f'{w}: "engine" is required: one of {", ".join(AUDIO_ENGINES)}')
    if engine == "procedural":
        return AudioProfile(engine="procedural")
    if not isinstance(value.get("weights"), str):
        raise ProfileError(f'{w}: "weights" is required for engine "stable-audio"')
    guidance = _number(value, "guidance", w)
    return AudioProfile(
        engine=engine,
        weights=_path(value["weights"], source),
        steps=_int(value, "steps", w, minimum=1) or 100,
        guidance=7.0 if guidance is None else guidance,
        device=_choice(value, "device", DEVICES, w, "auto"),
        dtype=_choice(value, "dtype", DTYPES, w, "auto"),
    )


def _prices(value: Any, where: str) -> dict[tuple[str, int], float]:
    if not isinstance(value, dict):
        raise ProfileError(f"{where}: prices must be a table like {{std_5 = 10, pro_5 = 35}}")
    out = {}
    for key, credits in value.items():
        mode, _, seconds = key.partition("_")
        ok = mode in MODES and seconds.isdigit() and isinstance(credits, int | float)
        if not ok or isinstance(credits, bool) or credits < 0:
            raise ProfileError(
                f"{where}: prices.{key} = {credits!r}; keys are <mode>_<seconds> "
                "(std_5, pro_5, std_10, pro_10) and values non-negative credits"
            )
        out[(mode, int(seconds))] = float(credits)
    return out
