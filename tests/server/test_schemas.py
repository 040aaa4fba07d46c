"""The request bodies carry SynthesisParams' names and defaults (one name from HTTP to the sampler)."""

from __future__ import annotations

import dataclasses

from ishowtts import defaults
from ishowtts.engine.backend import SynthesisParams
from ishowtts.server.schemas import SpeechRequest, TTSRequest

PARAM_NAMES = {f.name for f in dataclasses.fields(SynthesisParams)}


def test_request_defaults_are_the_synthesis_defaults() -> None:
    assert TTSRequest(text="hi").params() == SynthesisParams()
    assert SpeechRequest(input="hi").params() == SynthesisParams()
    assert TTSRequest.model_fields["cross_fade_duration"].default == defaults.CROSS_FADE_DURATION
    assert SpeechRequest.model_fields["speed"].default == defaults.SPEED


def test_tts_request_passes_every_synthesis_field_by_name() -> None:
    # every SynthesisParams field but the engine's own first_chunk is an /api/tts field of the same name
    assert PARAM_NAMES & set(TTSRequest.model_fields) == PARAM_NAMES - {"first_chunk"}
    values = {
        "nfe_step": 8,
        "cfg_strength": 3.0,
        "sway_sampling_coef": 0.5,
        "speed": 1.5,
        "seed": 42,
        "cross_fade_duration": 0.1,
        "target_rms": 0.2,
        "fix_duration": 2.5,
        "remove_silence": True,
    }
    params = TTSRequest(text="hi", **values).params()
    assert {k: getattr(params, k) for k in values} == values
    assert params.first_chunk is defaults.FIRST_CHUNK


def test_speech_request_passes_speed_and_seed() -> None:
    assert PARAM_NAMES & set(SpeechRequest.model_fields) == {"speed", "seed"}
    assert SpeechRequest(input="hi", speed=2.0, seed=7).params() == SynthesisParams(speed=2.0, seed=7)
