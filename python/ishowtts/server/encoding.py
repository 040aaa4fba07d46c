"""Audio output formats for the HTTP API: one place that turns float32 audio into response bytes.

``wav`` and ``pcm`` go through the native encoder (``ishowtts.audio.encode_wav`` / ``WavStreamEncoder`` /
``encode_pcm16``), the only WAV writer; ``flac``, ``mp3`` and ``opus`` (Ogg Opus) through soundfile's
libsndfile. A whole clip (:func:`encode_audio`, :func:`encode_wav`) is a WAV with its true RIFF and data
sizes; a stream's length is unknown when its header goes out, so a streamed WAV has 0xFFFFFFFF there.

Streaming (:class:`StreamEncoder`) behaviour per format:

* ``wav``: a 44-byte header with 0xFFFFFFFF RIFF/data sizes first, then PCM16 per chunk.
* ``pcm``: raw 24 kHz s16le per chunk.
* ``mp3``: constant-bitrate MPEG Layer III written progressively. libsndfile writes a zero-filled
  placeholder frame first (later rewritten with the LAME/Xing tag); a stream cannot go back, so that
  placeholder is dropped and clients receive plain CBR frames (they decode fully; the standard
  encoder delay/padding of ~1 frame is not trimmed without the tag).
* ``opus``: Ogg Opus, written progressively; libsndfile flushes an Ogg page about once per second of
  audio, so bytes arrive in ~1 s steps.
* ``flac``: encoded at the end. libsndfile seeks back to fill STREAMINFO (total samples, MD5) at close;
  a FLAC streamed without it has an unknown length that many readers (libsndfile included) refuse.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf

from ishowtts.audio import wav

SUPPORTED_FORMATS: tuple[str, ...] = ("mp3", "opus", "flac", "wav", "pcm")


class UnsupportedFormat(ValueError):
    """A response format we cannot produce; the message names the supported ones."""


@dataclass(frozen=True)
class FormatInfo:
    name: str
    media_type: str


FORMATS: dict[str, FormatInfo] = {
    "wav": FormatInfo("wav", "audio/wav"),
    "pcm": FormatInfo("pcm", "audio/pcm"),
    "mp3": FormatInfo("mp3", "audio/mpeg"),
    "opus": FormatInfo("opus", "audio/ogg; codecs=opus"),
    "flac": FormatInfo("flac", "audio/flac"),
}

_SF_FORMAT: dict[str, tuple[str, str]] = {
    "flac": ("FLAC", "PCM_16"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "opus": ("OGG", "OPUS"),
}
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def format_info(fmt: str) -> FormatInfo:
    info = FORMATS.get(fmt)
    if info is None:
        raise UnsupportedFormat(
            f"response_format {fmt!r} is not supported; supported formats: {', '.join(SUPPORTED_FORMATS)}"
        )
    return info


# ---------------------------------------------------------------------------------------------- PCM16 / WAV
def _as_mono_f32(audio: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(audio, dtype=np.float32)
    if a.ndim != 1:
        raise ValueError(f"audio must be mono (1-D), got shape {a.shape}")
    return a


def encode_pcm16(audio: np.ndarray) -> bytes:
    return wav.encode_pcm16(_as_mono_f32(audio))


def encode_wav(audio: np.ndarray, sample_rate: int) -> bytes:
    """A complete PCM16 mono WAV file whose RIFF and data sizes are the true ones."""
    return wav.encode_wav(_as_mono_f32(audio), sample_rate, "pcm16")


# ---------------------------------------------------------------------------------------------- libsndfile
class _AppendSink(io.RawIOBase):
    """A seekable in-memory file for libsndfile that hands out newly appended bytes as they appear.

    Bytes already handed out cannot change; writes that go back into them (header fix-ups at close)
    only reach the in-memory copy. ``skip`` bytes at the start are never handed out.
    """

    def __init__(self) -> None:
        super().__init__()
        self.buf = bytearray()
        self.pos = 0
        self.emitted = 0
        self.first_write: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        data = bytes(b)
        if self.first_write is None:
            self.first_write = (self.pos, data)
        end = self.pos + len(data)
        if end > len(self.buf):
            self.buf.extend(b"\0" * (end - len(self.buf)))
        self.buf[self.pos : end] = data
        self.pos = end
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: len(self.buf)}[whence]
        self.pos = base + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = max(0, min(len(b), len(self.buf) - self.pos))
        b[:n] = self.buf[self.pos : self.pos + n]
        self.pos += n
        return n

    def take(self) -> bytes:
        out = bytes(self.buf[self.emitted :])
        self.emitted = len(self.buf)
        return out


def _is_mp3_placeholder(data: bytes) -> bool:
    # an MPEG audio frame header (11 sync bits) followed only by zeros: libsndfile's Xing/LAME-tag slot
    return len(data) > 4 and data[0] == 0xFF and (data[1] & 0xE0) == 0xE0 and not any(data[4:])


def _open_sf(sink: _AppendSink, fmt: str, sample_rate: int) -> sf.SoundFile:
    if fmt == "opus" and sample_rate not in _OPUS_RATES:
        raise ValueError(f"opus needs a sample rate in {_OPUS_RATES}, got {sample_rate}")
    container, subtype = _SF_FORMAT[fmt]
    # soundfile applies bitrate_mode only together with compression_level; 0.5 = 80 kbit/s CBR at 24 kHz
    extra: dict[str, Any] = {"compression_level": 0.5, "bitrate_mode": "CONSTANT"} if fmt == "mp3" else {}
    return sf.SoundFile(sink, "w", sample_rate, 1, subtype=subtype, format=container, **extra)


def _encode_sf(audio: np.ndarray, fmt: str, sample_rate: int) -> bytes:
    if not len(audio):  # libsndfile writes no header at all without samples: one silent sample instead
        audio = np.zeros(1, np.float32)
    sink = _AppendSink()
    with _open_sf(sink, fmt, sample_rate) as f:
        f.write(audio)
    return bytes(sink.buf)


# ---------------------------------------------------------------------------------------------- public API
def encode_audio(audio: np.ndarray, fmt: str, sample_rate: int) -> bytes:
    """The whole clip as one file in ``fmt`` (wav | pcm | flac | mp3 | opus)."""
    format_info(fmt)
    a = _as_mono_f32(audio)
    if fmt == "wav":
        return encode_wav(a, sample_rate)
    if fmt == "pcm":
        return encode_pcm16(a)
    return _encode_sf(np.clip(a, -1.0, 1.0), fmt, sample_rate)


class StreamEncoder:
    """Incremental encoder: ``header()`` once, ``encode(chunk)`` per chunk, ``finish()`` once.

    Every call returns the bytes to send now (possibly empty). For formats that cannot stream
    (``flac``) the chunks are kept and everything comes out of ``finish()``. Calls are serialised by a lock:
    the server encodes in worker threads, and an abandoned ``encode`` may still run while ``close`` is called.
    """

    def __init__(self, fmt: str, sample_rate: int) -> None:
        self.info = format_info(fmt)
        self.fmt = fmt
        self.sample_rate = sample_rate
        self.samples = 0
        self._pending: list[np.ndarray] = []
        self._wav: wav.WavStreamEncoder | None = None
        self._sink: _AppendSink | None = None
        self._sf: sf.SoundFile | None = None
        self._skip_checked = False
        self._lock = threading.Lock()
        if fmt == "wav":
            self._wav = wav.WavStreamEncoder(sample_rate, 1, "pcm16")
        elif fmt in ("mp3", "opus"):
            self._sink = _AppendSink()
            self._sf = _open_sf(self._sink, fmt, sample_rate)

    def header(self) -> bytes:
        return self._wav.header() if self._wav is not None else b""

    def encode(self, chunk: np.ndarray) -> bytes:
        with self._lock:
            return self._encode(chunk)

    def _encode(self, chunk: np.ndarray) -> bytes:
        a = _as_mono_f32(chunk)
        self.samples += len(a)
        if self._wav is not None:
            return self._wav.encode(a)
        if self.fmt == "pcm":
            return encode_pcm16(a)
        if self._sf is not None:
            if len(a):
                self._sf.write(np.clip(a, -1.0, 1.0))
            return self._take()
        self._pending.append(a)
        return b""

    def finish(self) -> bytes:
        with self._lock:
            return self._finish()

    def _finish(self) -> bytes:
        if self._sf is not None:
            if self.samples == 0:
                self._sf.write(np.zeros(1, np.float32))  # see _encode_sf
            self._sf.close()
            self._sf = None
            return self._take()
        if self._pending:
            audio = np.concatenate(self._pending)
            self._pending = []
            return _encode_sf(np.clip(audio, -1.0, 1.0), self.fmt, self.sample_rate)
        if self.fmt == "flac":
            return _encode_sf(np.zeros(0, np.float32), self.fmt, self.sample_rate)
        return b""

    def close(self) -> None:
        """Release libsndfile state without producing output (client went away)."""
        with self._lock:
            if self._sf is not None:
                try:
                    self._sf.close()
                except Exception:  # pragma: no cover - best effort on abort
                    pass
                self._sf = None
            self._pending = []

    def _take(self) -> bytes:
        assert self._sink is not None
        if not self._skip_checked and self._sink.first_write is not None:
            self._skip_checked = True
            pos, data = self._sink.first_write
            if self.fmt == "mp3" and pos == 0 and _is_mp3_placeholder(data):
                self._sink.emitted = len(data)
        return self._sink.take()
