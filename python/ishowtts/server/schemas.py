"""Request and response bodies with their limits (pydantic, strict types: ``"1.0"`` is not a number).

Text length limits come from the config and are checked in the routes (so the message can name the limit);
a hard ceiling here stops absurd bodies before any work.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ishowtts import defaults
from ishowtts.engine.backend import SynthesisParams

HARD_TEXT_CEILING = 100_000  # characters; the configured limits (1000 / 4096) are far below


_PARAM_FIELDS = tuple(f.name for f in dataclasses.fields(SynthesisParams))


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class _SynthesisBody(_Strict):
    """A request body whose synthesis fields carry :class:`SynthesisParams`' names: ``params()`` passes
    every field the body has by that name (so one name runs from HTTP to the sampler); the rest keep
    ``SynthesisParams``' defaults."""

    def params(self) -> SynthesisParams:
        return SynthesisParams(
            **{name: getattr(self, name) for name in _PARAM_FIELDS if name in type(self).model_fields}
        )


class NormalizeBody(BaseModel):
    """``/api/tts`` ``normalize`` as an object: any field of the server's ``[normalize]`` options; the
    fields left out keep the server's values."""

    model_config = ConfigDict(strict=True, extra="forbid")

    enabled: bool | None = None
    lang: Literal["auto", "en", "zh"] | None = None
    numbers: bool | None = None
    units: bool | None = None
    phone: bool | None = None
    urls: Literal["say", "read", "drop"] | None = None
    emails: Literal["say", "read", "drop"] | None = None
    emoji: Literal["name", "drop"] | None = None
    acronyms: bool | None = None
    abbreviations: bool | None = None
    plurals: bool | None = None
    symbols: bool | None = None

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class NormalizationOptions(BaseModel):
    """Kokoro-FastAPI's ``normalization_options`` (``/v1/audio/speech``), mapped onto the server's
    ``[normalize]`` options; a field left out keeps the server's value. ``url_normalization`` /
    ``email_normalization`` false read the link as written instead of saying "link" / "email"."""

    model_config = ConfigDict(strict=True, extra="ignore")

    normalize: bool | None = None
    unit_normalization: bool | None = None
    url_normalization: bool | None = None
    email_normalization: bool | None = None
    optional_pluralization_normalization: bool | None = None
    phone_normalization: bool | None = None
    replace_remaining_symbols: bool | None = None
    caps_normalization: bool | None = None
    remove_emoji: bool | None = None
    lang: Literal["auto", "en", "zh"] | None = None  # extension: the language numbers are read in

    def changes(self) -> dict[str, Any]:
        pairs = {
            "enabled": self.normalize,
            "units": self.unit_normalization,
            "phone": self.phone_normalization,
            "plurals": self.optional_pluralization_normalization,
            "symbols": self.replace_remaining_symbols,
            "acronyms": self.caps_normalization,
            "lang": self.lang,
            "urls": None if self.url_normalization in (None, True) else "read",
            "emails": None if self.email_normalization in (None, True) else "read",
            "emoji": None if self.remove_emoji is None else ("drop" if self.remove_emoji else "name"),
        }
        return {k: v for k, v in pairs.items() if v is not None}


class TTSRequest(_SynthesisBody):
    """``POST /api/tts`` (the original iShowTTS shape)."""

    text: str = Field(max_length=HARD_TEXT_CEILING)
    voice_id: str | None = Field(default=None, max_length=64)
    engine: str | None = Field(default=None, max_length=32)
    speed: float = Field(default=defaults.SPEED, ge=0.25, le=4.0)
    target_rms: float = Field(default=defaults.TARGET_RMS, gt=0.0, le=1.0)
    cross_fade_duration: float = Field(default=defaults.CROSS_FADE_DURATION, ge=0.0, le=2.0)
    sway_sampling_coef: float = Field(default=defaults.SWAY_SAMPLING_COEF, ge=-1.0, le=1.0)
    cfg_strength: float = Field(default=defaults.CFG_STRENGTH, ge=0.0, le=10.0)
    nfe_step: int | None = Field(default=None, ge=1, le=64)
    fix_duration: float | None = Field(default=None, gt=0.0, le=120.0)
    remove_silence: bool = False
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    # true/false switches normalization; an object changes single options (docs/api.md)
    normalize: bool | NormalizeBody | None = None

    def normalize_changes(self) -> dict[str, Any]:
        if isinstance(self.normalize, bool):
            return {"enabled": self.normalize}
        return self.normalize.changes() if self.normalize is not None else {}


class TTSResponse(BaseModel):
    request_id: str
    voice_id: str
    engine: str
    engine_label: str
    sample_rate: int
    audio_base64: str
    waveform_len: int
    spoken_text: str  # the text after normalization: what was spoken
    format: Literal["audio/wav"] = "audio/wav"


class VoiceRef(_Strict):
    id: str = Field(max_length=64)


# The ids GET /v1/models lists: the README's name first, then OpenAI's TTS model names. /v1/audio/speech
# accepts any ``model`` string (one engine serves every name), so clients that hard-code one keep working.
MODEL_IDS: tuple[str, ...] = ("f5-tts", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")


class SpeechRequest(_SynthesisBody):
    """``POST /v1/audio/speech`` (OpenAI). ``response_format`` is checked in the route so that
    unsupported-but-valid OpenAI formats (aac) get a 400 naming the supported ones. ``stream`` is
    Kokoro-FastAPI's field: ``false`` answers with the whole file (exact WAV sizes, Content-Length)."""

    model: str = Field(default=MODEL_IDS[0], max_length=128, examples=list(MODEL_IDS))
    input: str = Field(max_length=HARD_TEXT_CEILING)
    voice: str | VoiceRef | None = None
    instructions: str | None = Field(default=None, max_length=HARD_TEXT_CEILING)  # accepted, not used
    response_format: str = Field(default="mp3", max_length=16)
    speed: float = Field(default=defaults.SPEED, ge=0.25, le=4.0)
    stream_format: Literal["audio", "sse"] = "audio"
    stream: bool = True
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)  # extension: reproducible output
    normalization_options: NormalizationOptions | None = None  # Kokoro-FastAPI's shape

    def normalize_changes(self) -> dict[str, Any]:
        return self.normalization_options.changes() if self.normalization_options is not None else {}

    def voice_id(self) -> str | None:
        if isinstance(self.voice, VoiceRef):
            return self.voice.id
        return self.voice


class HealthResponse(BaseModel):
    status: str
    ready: bool
    engine: str
    engine_label: str
    model: str | None
    device: str | None
    dtype: str | None
    compile: bool | None = None  # the DiT step / Vocos run inductor-compiled (F5 engine)
    quantize: str | None = None  # "int8" when the DiT's block Linears run int8 (F5 engine), else None
    attention: str | None = None  # the DiT's attention kernel: "sdpa" or "native" (F5 engine)
    decided: dict[str, str] | None = None  # why dtype, quantize, compile and attention are what they are ("configured" / "auto: ...")
    cpu: dict[str, Any] | None = None  # the CPU model and the ISA features that decide the CPU defaults
    fallback: bool
    fallback_reason: str | None
    voices: int
    default_voice: str
    version: str
    replicas: list[dict[str, Any]] | None = None  # serve --ray: each synthesis replica's last report
    cluster: dict[str, Any] | None = None  # serve --ray: the replicas' totals


class VoiceItem(BaseModel):
    id: str
    engine: str
    engine_label: str
    language: str | None = None
    reference_text: str | None = None


class ErrorDetail(BaseModel):
    """Every error outside /v1/: one readable message (also for validation errors)."""

    model_config = ConfigDict(extra="forbid")
    detail: str


class OpenAIErrorObject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str
    type: Literal["invalid_request_error", "server_error"]
    param: str | None
    code: str | None


class OpenAIError(BaseModel):
    """Every error on /v1/: OpenAI's error object ('type' is 'server_error' for 5xx)."""

    model_config = ConfigDict(extra="forbid")
    error: OpenAIErrorObject


def error_body(
    message: str, *, openai: bool, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    if openai:
        return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    return {"detail": message}
