"""F5-TTS log-mel front end without torchaudio (torchaudio ``MelSpectrogram`` semantics, via torch.stft).

24 kHz, n_fft 1024, win 1024, hop 256, 100 HTK mel bands from 0 Hz to Nyquist without filter
normalisation, magnitude (power 1), centred reflect padding, then ``log(clamp(x, 1e-5))``.
"""

from __future__ import annotations

import math
import threading

import torch
from torch import Tensor

SAMPLE_RATE = 24_000
N_FFT = 1024
WIN_LENGTH = 1024
HOP_LENGTH = 256
N_MELS = 100
LOG_CLAMP = 1e-5

_cache: dict[tuple, tuple[Tensor, Tensor]] = {}
_cache_lock = threading.Lock()


def _hz_to_mel(f: float) -> float:
    return 2595.0 * math.log10(1.0 + f / 700.0)


def htk_mel_filterbank(
    n_freqs: int = N_FFT // 2 + 1,
    n_mels: int = N_MELS,
    sample_rate: int = SAMPLE_RATE,
    f_min: float = 0.0,
    f_max: float | None = None,
) -> Tensor:
    """Triangular HTK filterbank (n_freqs, n_mels), fp32, unnormalised (torchaudio ``melscale_fbanks``)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    m_pts = torch.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2)
    f_pts = 700.0 * (10.0 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0)


def _tables(device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    key = (device.type, device.index, dtype)
    hit = _cache.get(key)
    if hit is None:
        with _cache_lock:
            hit = _cache.get(key)
            if hit is None:
                fb = htk_mel_filterbank().to(device=device, dtype=dtype)
                window = torch.hann_window(WIN_LENGTH, device=device, dtype=dtype)
                hit = _cache[key] = (fb, window)
    return hit


def log_mel_spectrogram(audio: Tensor) -> Tensor:
    """(B, S) or (S,) 24 kHz audio -> (B, 100, 1 + S // 256) log-mel (fp32 unless the input is fp64)."""
    if audio.ndim == 1:
        audio = audio.unsqueeze(0)
    elif audio.ndim == 3 and audio.shape[1] == 1:
        audio = audio.squeeze(1)
    if audio.ndim != 2:
        raise ValueError(f"audio must be (S,), (B, S) or (B, 1, S), got {tuple(audio.shape)}")
    if audio.shape[-1] <= N_FFT // 2:
        raise ValueError(
            f"audio too short for reflect padding: {audio.shape[-1]} samples (need > {N_FFT // 2})"
        )
    if audio.dtype not in (torch.float32, torch.float64):
        audio = audio.float()  # stft has no half-precision CPU kernels; the mel is tiny anyway
    fb, window = _tables(audio.device, audio.dtype)
    spec = torch.stft(
        audio,
        N_FFT,
        hop_length=HOP_LENGTH,
        win_length=WIN_LENGTH,
        window=window,
        center=True,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    ).abs()
    mel = torch.matmul(spec.transpose(-1, -2), fb).transpose(-1, -2)
    return torch.log(torch.clamp(mel, min=LOG_CLAMP))
