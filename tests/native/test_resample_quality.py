"""Resampler quality: least-squares tone fits (not FFT, whose window sidelobes hide anything below ~-90 dB).

For each ratio: worst passband SNR for tones up to 0.75 of the lower Nyquist (>= 120 dB), passband ripple up
to 0.85 Nyquist (<= 0.01 dB), alias (downsampling) or image (upsampling) leakage for components at or beyond
1.05 Nyquist (<= -110 dB). soxr HQ is measured by the same code in the same test and printed beside ours
(run with ``-s``) and recorded as a junit property.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from ishowtts.audio import resample

pytestmark = pytest.mark.native

AMP = 0.5  # -6 dBFS
DURATION_S = 0.35
EDGE_S = 0.05  # trimmed at both ends; the filter transient is < 2 ms

RATIOS = [(24000, 48000), (24000, 16000), (48000, 24000), (44100, 24000), (22050, 24000)]


def tone(fs: int, f: float) -> np.ndarray:
    t = np.arange(round(fs * DURATION_S)) / fs
    return (AMP * np.sin(2 * np.pi * f * t)).astype(np.float32)


def fold(f: float, fs: float) -> float:
    """Frequency at which a real component at ``f`` appears when sampled at ``fs``."""
    f = f % fs
    return fs - f if f > fs / 2 else f


def fit(y: np.ndarray, fs: int, freqs: list[float]) -> tuple[list[float], float]:
    """Least-squares fit of sin/cos pairs at ``freqs`` plus DC over the trimmed signal.

    Returns the fitted amplitude per frequency and the SNR (dB) of the first component against what is left
    after removing that component and DC (other listed components count as noise).
    """
    edge = round(fs * EDGE_S)
    seg = y[edge : len(y) - edge].astype(np.float64)
    n = np.arange(edge, edge + len(seg), dtype=np.float64)
    cols = []
    for f in freqs:
        ph = 2 * np.pi * f / fs * n
        cols += [np.sin(ph), np.cos(ph)]
    cols.append(np.ones_like(seg))
    basis = np.stack(cols, axis=1)
    coef, *_ = np.linalg.lstsq(basis, seg, rcond=None)
    amps = [float(np.hypot(coef[2 * i], coef[2 * i + 1])) for i in range(len(freqs))]
    main = basis[:, :2] @ coef[:2]
    resid = seg - main - coef[-1]
    snr = 10 * np.log10(np.sum(main**2) / max(np.sum(resid**2), 1e-300))
    return amps, float(snr)


@dataclass
class Quality:
    worst_snr_db: float
    ripple_db: float
    worst_leak_db: float


def measure(fn, src: int, dst: int) -> Quality:
    """Quality figures of ``fn(x, src, dst) -> y`` at this ratio."""
    nyq = min(src, dst) / 2
    snrs = []
    for r in np.linspace(0.02, 0.75, 7):
        _, snr = fit(fn(tone(src, r * nyq), src, dst), dst, [r * nyq])
        snrs.append(snr)
    gains = []
    for r in np.linspace(0.02, 0.85, 9):
        (a,), _ = fit(fn(tone(src, r * nyq), src, dst), dst, [r * nyq])
        gains.append(a / AMP)
    ripple = 20 * np.log10(max(gains) / min(gains))
    leaks = []
    if dst < src:  # aliasing: input components at >= 1.05 Nyquist (of the output) fold back into the band
        for r in np.linspace(1.05, 0.98 * (src / 2) / nyq, 6):
            f = r * nyq
            (a,), _ = fit(fn(tone(src, f), src, dst), dst, [fold(f, dst)])
            leaks.append(a / AMP)
    else:  # imaging: a tone at f leaves an image at src - f (>= 1.05 Nyquist for f <= 0.95 Nyquist)
        for r in np.linspace(0.05, 0.95, 7):
            f = r * nyq
            (_, a), _ = fit(fn(tone(src, f), src, dst), dst, [f, fold(src - f, dst)])
            leaks.append(a / AMP)
    return Quality(min(snrs), float(ripple), float(20 * np.log10(max(max(leaks), 1e-12))))


def soxr_hq(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    import soxr

    return soxr.resample(x, src, dst, quality="HQ")


@pytest.mark.parametrize(("src", "dst"), RATIOS, ids=[f"{s}->{d}" for s, d in RATIOS])
def test_quality_against_requirements_and_soxr(src: int, dst: int, record_property) -> None:
    ours = measure(resample, src, dst)
    peer = measure(soxr_hq, src, dst)
    line = (
        f"{src}->{dst}: worst SNR ours {ours.worst_snr_db:.1f} dB / soxr HQ {peer.worst_snr_db:.1f} dB; "
        f"ripple ours {ours.ripple_db:.4f} dB / soxr {peer.ripple_db:.4f} dB; "
        f"worst {'alias' if dst < src else 'image'} ours {ours.worst_leak_db:.1f} dB / soxr {peer.worst_leak_db:.1f} dB"
    )
    print(line)
    record_property("quality", line)
    assert ours.worst_snr_db >= 120.0, line
    assert ours.ripple_db <= 0.01, line
    assert ours.worst_leak_db <= -110.0, line


def test_harness_detects_a_poor_resampler() -> None:
    """The same fits flag scipy.signal.resample_poly (short filter): aliasing, ripple and images."""
    from scipy.signal import resample_poly

    def poly(x: np.ndarray, src: int, dst: int) -> np.ndarray:
        g = np.gcd(src, dst)
        return resample_poly(x, dst // g, src // g).astype(np.float32)

    nyq = 12000.0
    (alias,), _ = fit(poly(tone(48000, 1.05 * nyq), 48000, 24000), 24000, [fold(1.05 * nyq, 24000)])
    assert 20 * np.log10(alias / AMP) > -110.0
    (g_low,), _ = fit(poly(tone(48000, 0.02 * nyq), 48000, 24000), 24000, [0.02 * nyq])
    (g_edge,), _ = fit(poly(tone(48000, 0.85 * nyq), 48000, 24000), 24000, [0.85 * nyq])
    assert abs(20 * np.log10(g_edge / g_low)) > 0.01
    _, snr = fit(poly(tone(24000, 0.75 * nyq), 24000, 48000), 48000, [0.75 * nyq])
    assert snr < 120.0
