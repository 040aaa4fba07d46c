"""Server configuration: TOML file + ``ISHOWTTS__SECTION__KEY`` environment overrides + CLI overrides.

Sections: ``[server]``, ``[engine]``, ``[[voices]]``, ``[queue]``, ``[danmaku]`` (passed through raw) and the
top-level ``default_voice`` key. Precedence, lowest first: defaults, the file, the environment, ``overrides``.
Relative paths in the file resolve against the file's directory; relative paths from the environment or
overrides resolve against the current directory. Unknown keys and bad values raise :class:`ConfigError`
naming the offending key. With no voices configured, the bundled default voice is used.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from ishowtts import defaults, validators
from ishowtts.validators import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

log = logging.getLogger(__name__)

ENV_PREFIX = "ISHOWTTS__"
DATA_DIR_ENV = "ISHOWTTS_DATA_DIR"
VOICE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_VOICE_ID = "default"


def is_valid_voice_id(voice_id: object) -> bool:
    return isinstance(voice_id, str) and bool(VOICE_ID_RE.match(voice_id)) and ".." not in voice_id


def default_data_dir(env: Mapping[str, str] = os.environ) -> Path:
    if env.get(DATA_DIR_ENV):
        return Path(env[DATA_DIR_ENV]).expanduser()
    xdg = env.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path("~/.local/share").expanduser()
    return base / "ishowtts"


def bundled_default_voice() -> tuple[Path, str]:
    """Path of the bundled reference clip and its exact transcript."""
    root = resources.files("ishowtts") / "data" / "voices"
    wav = Path(str(root / "default.wav"))
    text = Path(str(root / "default.txt")).read_text(encoding="utf-8").strip()
    return wav, text


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 27121
    api_key: str | None = None
    cors_origins: list[str] = field(default_factory=list)
    max_text_chars: int = 4096  # OpenAI input limit
    max_tts_chars: int = 1000  # /api/tts
    max_upload_bytes: int = 10 * 1024 * 1024
    max_body_bytes: int = 12 * 1024 * 1024
    data_dir: Path = field(default_factory=default_data_dir)


@dataclass
class EngineConfig:
    kind: str = "auto"  # auto | f5 | espeak
    model: str = "F5TTS_v1_Base"
    ckpt: Path | None = None
    vocab: Path | None = None
    vocoder: Path | None = None
    device: str | None = None  # None = auto
    dtype: str | None = defaults.DTYPE  # fp32 | fp16 | bf16 | None = auto
    nfe: int = defaults.NFE_STEP  # sampler steps when a request names none
    renderer: str = defaults.RENDERER  # "static" (bucketed batches) | "eager" (one chunk at a time)
    buckets: list[int] = field(default_factory=lambda: list(defaults.BUCKETS))  # frame-length buckets
    batch_window_ms: float = defaults.BATCH_WINDOW_MS
    max_batch: int = defaults.MAX_BATCH
    compile: bool | None = defaults.COMPILE  # None = auto
    quantize: str | None = defaults.QUANTIZE  # "auto" | "int8" (torchao; the `fast` extra) | None = off
    attention: str = defaults.ATTENTION  # "auto" | "sdpa" | "native" (the AVX512-BF16 CPU kernel)
    graphs: bool | None = defaults.GRAPHS  # CUDA graphs in the static renderer; None ("auto") = on for CUDA
    memory_cap: float | None = None  # GPU memory cap: a fraction (0, 1] or bytes; None = no cap


@dataclass
class VoiceConfig:
    id: str
    reference_audio: Path | None = None
    reference_text: str = ""
    language: str = "en"
    preload: bool = True


@dataclass
class QueueConfig:
    max_size: int = 64
    timeout_s: float = 60.0
    cache_size: int = 256  # LRU finished-audio entries (seeded requests only); 0 disables


@dataclass
class DanmakuConfig:
    raw: dict[str, Any] = field(default_factory=dict)  # parsed by ishowtts.danmaku.settings


@dataclass
class NormalizeConfig:
    raw: dict[str, Any] = field(default_factory=dict)  # parsed by ishowtts.text.normalize (NormalizeOptions)


@dataclass
class ScaleConfig:
    raw: dict[str, Any] = field(default_factory=dict)  # parsed by ishowtts.deploy.settings (serve --ray)


@dataclass
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    voices: list[VoiceConfig] = field(default_factory=list)
    queue: QueueConfig = field(default_factory=QueueConfig)
    danmaku: DanmakuConfig = field(default_factory=DanmakuConfig)
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    scale: ScaleConfig = field(default_factory=ScaleConfig)
    default_voice: str | None = None
    source: Path | None = None


# ---------------------------------------------------------------------------------------------- validators
def _buckets(key: str, v: Any) -> list[int]:
    """Distinct frame lengths, sorted; ``[]`` (the old example config's value) means the default buckets."""
    if (
        not isinstance(v, list)
        or not all(isinstance(b, int) and not isinstance(b, bool) and 1 <= b <= 1_000_000 for b in v)
        or len(set(v)) != len(v)
    ):
        raise ConfigError(f"{key}: must be a list of distinct positive ints, got {v!r}")
    return sorted(v) if v else list(defaults.BUCKETS)


def _memory_cap(key: str, v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ConfigError(f"{key}: must be 0 (no cap), a fraction in (0, 1] or a byte count, got {v!r}")
    return float(v) if v > 0 else None


def _voice_id(key: str, v: Any) -> str:
    if not is_valid_voice_id(v):
        raise ConfigError(
            f"{key}: must match {VOICE_ID_RE.pattern} (letters, digits, '_', '.', '-'; no '..'), got {v!r}"
        )
    return v


_SECTIONS: dict[str, tuple[type, dict[str, validators.Validator]]] = {
    "server": (
        ServerConfig,
        {
            "host": validators.non_empty_str,
            "port": validators.integer(0, 65535),
            "api_key": validators.opt_str,
            "cors_origins": validators.str_list,
            "max_text_chars": validators.integer(1, 1_000_000),
            "max_tts_chars": validators.integer(1, 1_000_000),
            "max_upload_bytes": validators.integer(1024, 1 << 31),
            "max_body_bytes": validators.integer(1024, 1 << 31),
            "data_dir": validators.path,
        },
    ),
    "engine": (
        EngineConfig,
        {
            "kind": validators.choice("auto", "f5", "espeak"),
            "model": validators.non_empty_str,
            "ckpt": validators.opt_path,
            "vocab": validators.opt_path,
            "vocoder": validators.opt_path,
            "device": validators.opt_str,
            "dtype": validators.choice("fp32", "fp16", "bf16", none_alias="auto"),
            "nfe": validators.integer(1, 64),
            "renderer": validators.choice(*defaults.RENDERERS),
            "buckets": _buckets,
            "batch_window_ms": validators.number(0.0, 1000.0),
            "max_batch": validators.integer(1, 256),
            "compile": validators.auto_bool,
            "quantize": validators.choice("int8", "auto", none_alias="none"),
            "attention": validators.choice("auto", *defaults.ATTENTION_KERNELS),
            "graphs": validators.auto_bool,
            "memory_cap": _memory_cap,
        },
    ),
    "queue": (
        QueueConfig,
        {
            "max_size": validators.integer(1, 100_000),
            "timeout_s": validators.number(0.0, 86_400.0, lo_open=True),
            "cache_size": validators.integer(0, 1_000_000),
        },
    ),
}
_VOICE_KEYS: dict[str, validators.Validator] = {
    "id": _voice_id,
    "reference_audio": validators.opt_path,
    "reference_text": validators.text,
    "language": validators.non_empty_str,
    "preload": validators.boolean,
}
_PATH_KEYS = {("server", "data_dir"), ("engine", "ckpt"), ("engine", "vocab"), ("engine", "vocoder")}
_TOP_KEYS = {"server", "engine", "voices", "queue", "danmaku", "normalize", "scale", "default_voice"}


# ---------------------------------------------------------------------------------------------- loading
def load_config(
    path: Path | str | None = None,
    env: Mapping[str, str] = os.environ,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Build a validated :class:`Config`; raises :class:`ConfigError` naming the offending key."""
    raw: dict[str, Any] = {}
    source: Path | None = None
    if path is not None:
        source = Path(path).expanduser().resolve()
        raw = _read_toml(source)
        _resolve_paths(raw, source.parent, origin=str(source))
    cwd = Path.cwd()
    env_layer = _env_layer(env)
    _resolve_paths(env_layer, cwd, origin="environment")
    _merge(raw, env_layer)
    if overrides:
        layer = {k: (dict(v) if isinstance(v, dict) else v) for k, v in overrides.items()}
        _resolve_paths(layer, cwd, origin="overrides")
        _merge(raw, layer)
    cfg = _build(raw, env)
    cfg.source = source
    return cfg


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"config file unreadable: {path}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _parse_env_value(value: str) -> Any:
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, value in env.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        if len(parts) == 1 and parts[0] == "default_voice":
            layer["default_voice"] = value
        elif len(parts) == 2 and parts[0] in ("server", "engine", "queue", "danmaku", "scale") and parts[1]:
            layer.setdefault(parts[0], {})[parts[1]] = _parse_env_value(value)
        else:
            raise ConfigError(
                f"{name}: unknown environment override (use {ENV_PREFIX}SECTION__KEY with section "
                "server, engine, queue, danmaku or scale, or ISHOWTTS__DEFAULT_VOICE)"
            )
    return layer


def _resolve_paths(raw: dict[str, Any], base: Path, *, origin: str) -> None:
    def resolve(v: Any) -> Any:
        if isinstance(v, str) and v.strip():
            p = Path(v.strip()).expanduser()
            return str(p if p.is_absolute() else (base / p))
        return v

    for section, key in _PATH_KEYS:
        sec = raw.get(section)
        if isinstance(sec, dict) and key in sec:
            sec[key] = resolve(sec[key])
    voices = raw.get("voices")
    if isinstance(voices, list):
        for voice in voices:
            if isinstance(voice, dict) and "reference_audio" in voice:
                voice["reference_audio"] = resolve(voice["reference_audio"])


def _merge(base: dict[str, Any], layer: dict[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value


def _build(raw: dict[str, Any], env: Mapping[str, str]) -> Config:
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    cfg = Config()
    cfg.server.data_dir = default_data_dir(env)
    for section, (_cls, checks) in _SECTIONS.items():
        values = raw.get(section, {})
        if not isinstance(values, dict):
            raise ConfigError(f"{section}: must be a table, got {values!r}")
        target = getattr(cfg, section)
        for key, value in values.items():
            if key not in checks:
                raise ConfigError(
                    f"{section}.{key}: unknown key (allowed: {', '.join(f.name for f in fields(target))})"
                )
            setattr(target, key, checks[key](f"{section}.{key}", value))
    if cfg.server.max_body_bytes < cfg.server.max_upload_bytes:
        raise ConfigError(
            f"server.max_body_bytes: must be >= server.max_upload_bytes ({cfg.server.max_upload_bytes}), "
            f"got {cfg.server.max_body_bytes}"
        )
    danmaku = raw.get("danmaku", {})
    if not isinstance(danmaku, dict):
        raise ConfigError(f"danmaku: must be a table, got {danmaku!r}")
    cfg.danmaku = DanmakuConfig(raw=dict(danmaku))
    normalize = raw.get("normalize", {})
    if not isinstance(normalize, dict):
        raise ConfigError(f"normalize: must be a table, got {normalize!r}")
    cfg.normalize = NormalizeConfig(raw=dict(normalize))
    scale = raw.get("scale", {})
    if not isinstance(scale, dict):
        raise ConfigError(f"scale: must be a table, got {scale!r}")
    cfg.scale = ScaleConfig(raw=dict(scale))
    cfg.voices = _build_voices(raw.get("voices"))
    default_voice = raw.get("default_voice")
    if default_voice is not None:
        default_voice = _voice_id("default_voice", default_voice)
        if default_voice not in {v.id for v in cfg.voices}:
            raise ConfigError(
                f"default_voice: {default_voice!r} is not a configured voice "
                f"({', '.join(v.id for v in cfg.voices)})"
            )
    cfg.default_voice = default_voice or cfg.voices[0].id
    return cfg


def _build_voices(raw_voices: Any) -> list[VoiceConfig]:
    if raw_voices is None or raw_voices == []:
        wav, text = bundled_default_voice()
        return [VoiceConfig(id=DEFAULT_VOICE_ID, reference_audio=wav, reference_text=text, language="en")]
    if not isinstance(raw_voices, list):
        raise ConfigError(f"voices: must be an array of tables ([[voices]]), got {raw_voices!r}")
    voices: list[VoiceConfig] = []
    seen: set[str] = set()
    for i, item in enumerate(raw_voices):
        prefix = f"voices[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{prefix}: must be a table, got {item!r}")
        if "id" not in item:
            raise ConfigError(f"{prefix}.id: required")
        values: dict[str, Any] = {}
        for key, value in item.items():
            if key not in _VOICE_KEYS:
                raise ConfigError(f"{prefix}.{key}: unknown key (allowed: {', '.join(_VOICE_KEYS)})")
            values[key] = _VOICE_KEYS[key](f"{prefix}.{key}", value)
        voice = VoiceConfig(**values)
        if voice.id in seen:
            raise ConfigError(f"{prefix}.id: duplicate voice id {voice.id!r}")
        seen.add(voice.id)
        if voice.reference_audio is not None and not voice.reference_audio.is_file():
            raise ConfigError(f"{prefix}.reference_audio: file not found: {voice.reference_audio}")
        if voice.reference_audio is not None and not voice.reference_text:
            log.warning(
                "voice has reference audio but no reference_text; F5 needs the exact transcript",
                extra={"fields": {"voice": voice.id}},
            )
        voices.append(voice)
    return voices
