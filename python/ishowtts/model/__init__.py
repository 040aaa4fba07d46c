"""Our own F5-TTS: DiT, CFM sampler, Vocos decoder, log-mel front end and strict checkpoint loading."""

from .cfm import (
    EPSS_SCHEDULES,
    SamplingCancelled,
    SamplingState,
    euler_loop,
    finish,
    prepare_sampling,
    time_grid,
)
from .configs import F5TTS_BASE, F5TTS_V1_BASE, NAMED_CONFIGS, SMALL, TINY, F5Config, resolve_config
from .dit import DiT
from .f5 import F5Model
from .loading import CheckpointMismatchError, load_f5, load_vocos, normalize_f5_state_dict
from .mel import log_mel_spectrogram
from .random_init import random_f5, random_vocos, randomize_
from .vocos import VocosConfig, VocosDecoder

__all__ = [
    "EPSS_SCHEDULES",
    "F5TTS_BASE",
    "F5TTS_V1_BASE",
    "NAMED_CONFIGS",
    "SMALL",
    "TINY",
    "CheckpointMismatchError",
    "DiT",
    "F5Config",
    "F5Model",
    "SamplingCancelled",
    "SamplingState",
    "VocosConfig",
    "VocosDecoder",
    "euler_loop",
    "finish",
    "load_f5",
    "load_vocos",
    "log_mel_spectrogram",
    "normalize_f5_state_dict",
    "prepare_sampling",
    "random_f5",
    "random_vocos",
    "randomize_",
    "resolve_config",
    "time_grid",
]
