"""The fallback engine: libespeak-ng (from the ``espeakng-loader`` wheel) driven through ctypes.

libespeak-ng is initialised once per process in synchronous mode with a synth callback that collects the
16-bit samples; it is not thread-safe, so every call is serialised by one process-wide lock. Its 22.05 kHz
output is resampled to 24 kHz with our native streaming resampler. Text is synthesised sentence by
sentence, which is what ``stream`` yields; ``synthesize`` is the concatenation of the stream.
Cancellation is checked in the synth callback (every ~50 ms of audio) and between sentences.
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ishowtts.engine.backend import (
    SAMPLE_RATE,
    CancelToken,
    SynthesisParams,
    VoiceReference,
)
from ishowtts.logging_setup import kv

log = logging.getLogger(__name__)

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_END_PAUSE = 0x1000
_POS_CHARACTER = 1
_PARAM_RATE = 1
_BUFFER_MS = 50
BASE_RATE_WPM = 175  # espeak-ng's default speaking rate (speed 1.0)
MIN_RATE_WPM = 80  # libespeak-ng clamps lower rates to this
MAX_RATE_WPM = 800
MAX_PIECE_CHARS = 200  # longer sentences are cut at a comma/space for streaming
EDGE_SILENCE_S = 0.1  # remove_silence keeps at most this much silence at each sentence edge
_SILENCE_LEVEL = 0.01

# language codes -> espeak-ng voice names (anything else is tried as given, then falls back to English)
_LANGUAGE_VOICES = {
    "zh": "cmn",
    "zh-cn": "cmn",
    "zh-hans": "cmn",
    "mandarin": "cmn",
    "yue": "yue",
    "zh-hk": "yue",
    "zh-yue": "yue",
    "cantonese": "yue",
    "en-gb": "en",
    "english": "en",
}
_SENTENCE_END = re.compile(r"(?<=[.!?;:…])\s+|(?<=[。！？；：])|\n+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class EspeakUnavailable(RuntimeError):
    """libespeak-ng could not be loaded or initialised."""


class _Library:
    """Process-wide libespeak-ng handle; all use goes through ``lock``."""

    _instance: _Library | None = None
    _instance_lock = threading.Lock()

    @classmethod
    def get(cls) -> _Library:
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise EspeakUnavailable("the espeakng-loader package is not installed") from exc
        self.library_path = espeakng_loader.get_library_path()
        self.data_path = espeakng_loader.get_data_path()
        try:
            lib = ctypes.CDLL(self.library_path)
        except OSError as exc:
            raise EspeakUnavailable(f"cannot load {self.library_path}: {exc}") from exc
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        lib.espeak_Info.restype = ctypes.c_char_p
        self.lock = threading.Lock()
        self._lib = lib
        self._chunks: list[np.ndarray] = []
        self._should_stop: Callable[[], bool] | None = None
        self._callback = _SynthCallback(self._on_samples)  # keep a reference: C holds the pointer
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, self.data_path.encode(), _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise EspeakUnavailable(f"espeak_Initialize failed (data at {self.data_path})")
        lib.espeak_SetSynthCallback(self._callback)
        self.sample_rate = int(rate)
        self.version = (lib.espeak_Info(None) or b"").decode(errors="replace")
        self._voice_ok: dict[str, bool] = {}
        self._current_voice = ""
        log.info("espeak-ng initialised", extra=kv(version=self.version, sample_rate=self.sample_rate))

    def _on_samples(self, wav: Any, count: int, _events: Any) -> int:
        if count > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        stop = self._should_stop
        return 1 if stop is not None and stop() else 0

    def has_voice(self, name: str) -> bool:
        """Whether espeak-ng knows the voice ``name`` (caller holds ``lock``)."""
        if name not in self._voice_ok:
            self._voice_ok[name] = self._lib.espeak_SetVoiceByName(name.encode()) == 0
            self._current_voice = name if self._voice_ok[name] else ""
        return self._voice_ok[name]

    def synth(
        self, text: str, voice: str, rate_wpm: int, should_stop: Callable[[], bool] | None
    ) -> np.ndarray:
        """int16 samples at ``sample_rate`` for ``text`` (caller holds ``lock``)."""
        if voice != self._current_voice:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise RuntimeError(f"espeak-ng has no voice {voice!r}")
            self._current_voice = voice
        if self._lib.espeak_SetParameter(_PARAM_RATE, rate_wpm, 0) != 0:
            raise RuntimeError(f"espeak-ng rejected rate {rate_wpm}")
        data = text.encode("utf-8") + b"\x00"
        self._chunks = []
        self._should_stop = should_stop
        try:
            err = self._lib.espeak_Synth(
                data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _END_PAUSE, None, None
            )
        finally:
            self._should_stop = None
            chunks, self._chunks = self._chunks, []
        if err != 0:
            raise RuntimeError(f"espeak_Synth failed with error {err}")
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


def split_sentences(text: str, max_chars: int = MAX_PIECE_CHARS) -> list[str]:
    """Split at sentence/clause punctuation (incl. CJK) and newlines, then cut pieces longer than
    ``max_chars`` at the last comma or space before the limit (so streams start fast); never returns empty
    pieces."""
    text = _CONTROL.sub(" ", text)
    pieces: list[str] = []
    for part in _SENTENCE_END.split(text):
        part = part.strip()
        while len(part) > max_chars:
            window = part[:max_chars]
            cut = max(window.rfind(","), window.rfind("，"), window.rfind("、"))
            if cut < max_chars // 4:
                cut = window.rfind(" ")
            if cut < max_chars // 4:
                cut = max_chars - 1
            pieces.append(part[: cut + 1].strip())
            part = part[cut + 1 :].strip()
        if part:
            pieces.append(part)
    return pieces


def rate_for_speed(speed: float) -> int:
    if not speed > 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    return int(min(MAX_RATE_WPM, max(MIN_RATE_WPM, round(BASE_RATE_WPM * speed))))


def trim_edges(audio: np.ndarray, sample_rate: int, keep_s: float = EDGE_SILENCE_S) -> np.ndarray:
    """Cut leading/trailing silence down to ``keep_s`` seconds."""
    loud = np.flatnonzero(np.abs(audio) > _SILENCE_LEVEL)
    if loud.size == 0:
        return audio[:0]
    keep = int(keep_s * sample_rate)
    return audio[max(0, loud[0] - keep) : min(audio.shape[0], loud[-1] + 1 + keep)]


class EspeakBackend:
    name = "espeak"
    label = "espeak-ng (fallback)"
    sample_rate = SAMPLE_RATE

    def __init__(self) -> None:
        try:
            from ishowtts.audio import Resampler  # noqa: F401  (fail early if the native core is missing)
        except ImportError as exc:
            raise EspeakUnavailable(
                "the native resampler (ishowtts.audio.Resampler) is missing: build the package "
                "(pip install . or scripts/dev_build.sh)"
            ) from exc
        self._lib = _Library.get()
        self._voice_names: dict[str, str] = {}

    def info(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "model": f"espeak-ng {self._lib.version}".strip(),
            "device": "cpu",
            "dtype": "int16",
            "sample_rate": self.sample_rate,
            "native_sample_rate": self._lib.sample_rate,
            "speed_range": [MIN_RATE_WPM / BASE_RATE_WPM, MAX_RATE_WPM / BASE_RATE_WPM],
            "ignored_params": [
                "nfe",
                "cfg_strength",
                "sway_sampling_coef",
                "target_rms",
                "fix_duration",
                "seed",
            ],
        }

    def voice_name(self, language: str) -> str:
        """The espeak-ng voice used for a language code (unknown codes fall back to English, logged once)."""
        lang = (language or "en").strip().lower().replace("_", "-")
        name = self._voice_names.get(lang)
        if name is None:
            candidates = [_LANGUAGE_VOICES.get(lang, lang), lang.split("-")[0], "en"]
            with self._lib.lock:
                name = next(c for c in candidates if self._lib.has_voice(c))
            if name == "en" and lang.split("-")[0] != "en":
                log.warning("no espeak-ng voice for language; using English", extra=kv(language=language))
            self._voice_names[lang] = name
        return name

    def synthesize(
        self, text: str, voice: VoiceReference, params: SynthesisParams, cancel: CancelToken | None = None
    ) -> np.ndarray:
        chunks = list(self.stream(text, voice, params, cancel))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)

    def stream(
        self, text: str, voice: VoiceReference, params: SynthesisParams, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        from ishowtts.audio import Resampler

        sentences = split_sentences(text)
        if not sentences:
            raise ValueError("text is empty")
        espeak_voice = self.voice_name(voice.language)
        rate = rate_for_speed(params.speed)
        should_stop = (lambda: cancel.cancelled) if cancel is not None else None
        resampler = Resampler(self._lib.sample_rate, self.sample_rate, 1)
        for sentence in sentences:
            if cancel is not None:
                cancel.raise_if_cancelled()
            with self._lib.lock:
                raw = self._lib.synth(sentence, espeak_voice, rate, should_stop)
            if cancel is not None:
                cancel.raise_if_cancelled()
            audio = raw.astype(np.float32) / 32768.0
            if params.remove_silence:
                audio = trim_edges(audio, self._lib.sample_rate)
            out = np.asarray(resampler.process(np.ascontiguousarray(audio)), dtype=np.float32).reshape(-1)
            if out.size:
                yield out
        tail = np.asarray(resampler.flush(), dtype=np.float32).reshape(-1)
        if tail.size:
            yield tail

    def warmup(self, voices: list[VoiceReference]) -> None:
        languages = {v.language for v in voices} or {"en"}
        for lang in sorted(languages):
            probe = VoiceReference(id="warmup", audio=None, sample_rate=0, text="", language=lang)
            self.synthesize("Warm up.", probe, SynthesisParams())
