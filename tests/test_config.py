from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from ishowtts import defaults
from ishowtts.config import (
    Config,
    ConfigError,
    EngineConfig,
    QueueConfig,
    ServerConfig,
    bundled_default_voice,
    is_valid_voice_id,
    load_config,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "python" / "ishowtts" / "data" / "ishowtts.example.toml"


def write(tmp_path: Path, text: str, name: str = "ishowtts.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_without_file_use_bundled_voice(tmp_path: Path) -> None:
    cfg = load_config(env={"ISHOWTTS_DATA_DIR": str(tmp_path / "d")})
    assert isinstance(cfg, Config)
    assert cfg.server.host == "127.0.0.1" and cfg.server.port == 27121
    assert cfg.server.api_key is None and cfg.server.cors_origins == []
    assert cfg.server.max_text_chars == 4096 and cfg.server.max_tts_chars == 1000
    assert cfg.server.max_upload_bytes == 10 * 1024 * 1024
    assert cfg.server.data_dir == tmp_path / "d"
    assert cfg.engine.kind == "auto" and cfg.engine.nfe == 16 and cfg.engine.dtype is None
    assert cfg.queue.max_size == 64 and cfg.queue.timeout_s == 60.0 and cfg.queue.cache_size == 256
    assert [v.id for v in cfg.voices] == ["default"]
    assert cfg.default_voice == "default"
    wav, text = bundled_default_voice()
    assert cfg.voices[0].reference_audio == wav and wav.is_file()
    assert cfg.voices[0].reference_text == text and len(text.split()) >= 8
    assert cfg.source is None


def test_bundled_voice_is_small_24k_pcm16_clip() -> None:
    import soundfile as sf

    wav, _ = bundled_default_voice()
    info = sf.info(str(wav))
    assert info.samplerate == 24_000 and info.channels == 1 and info.subtype == "PCM_16"
    assert 4.0 <= info.duration <= 6.5
    assert wav.stat().st_size < 300_000


def test_data_dir_default_follows_xdg(tmp_path: Path) -> None:
    cfg = load_config(env={"XDG_DATA_HOME": str(tmp_path)})
    assert cfg.server.data_dir == tmp_path / "ishowtts"


def test_file_values_and_relative_paths(tmp_path: Path, wav_bytes: bytes) -> None:
    (tmp_path / "voices").mkdir()
    (tmp_path / "voices" / "a.wav").write_bytes(wav_bytes)
    p = write(
        tmp_path,
        """
default_voice = "b"
[server]
port = 8080
api_key = "secret"
cors_origins = ["http://localhost:5173"]
data_dir = "state"
[engine]
kind = "espeak"
ckpt = "w/model.safetensors"
dtype = "bf16"
nfe = 32
buckets = [512, 256]
[[voices]]
id = "a"
reference_audio = "voices/a.wav"
reference_text = "  hello there "
[[voices]]
id = "b"
language = "zh"
preload = false
[queue]
max_size = 3
timeout_s = 5
[danmaku]
template = "{username}: {text}"
""",
    )
    cfg = load_config(p, env={})
    assert cfg.source == p.resolve()
    assert cfg.server.port == 8080 and cfg.server.api_key == "secret"
    assert cfg.server.cors_origins == ["http://localhost:5173"]
    assert cfg.server.data_dir == tmp_path / "state"
    assert cfg.engine.kind == "espeak" and cfg.engine.dtype == "bf16" and cfg.engine.nfe == 32
    assert cfg.engine.ckpt == tmp_path / "w" / "model.safetensors"
    assert cfg.engine.buckets == [256, 512]
    assert [v.id for v in cfg.voices] == ["a", "b"]
    assert cfg.voices[0].reference_audio == tmp_path / "voices" / "a.wav"
    assert cfg.voices[0].reference_text == "hello there"
    assert (
        cfg.voices[1].reference_audio is None and cfg.voices[1].language == "zh" and not cfg.voices[1].preload
    )
    assert cfg.default_voice == "b"
    assert cfg.queue.max_size == 3 and cfg.queue.timeout_s == 5.0 and isinstance(cfg.queue.timeout_s, float)
    assert cfg.danmaku.raw == {"template": "{username}: {text}"}


def test_env_overrides_parse_toml_values_and_beat_the_file(tmp_path: Path) -> None:
    p = write(tmp_path, "[server]\nport = 8080\n[engine]\nnfe = 8\n")
    env = {
        "ISHOWTTS__SERVER__PORT": "9000",
        "ISHOWTTS__SERVER__HOST": "0.0.0.0",  # not TOML: taken as a string
        "ISHOWTTS__SERVER__CORS_ORIGINS": '["http://a", "http://b"]',
        "ISHOWTTS__ENGINE__COMPILE": "true",
        "ISHOWTTS__ENGINE__VOCAB": "rel/vocab.txt",
        "ISHOWTTS__QUEUE__TIMEOUT_S": "2.5",
        "ISHOWTTS__DANMAKU__MAX_CHARS": "100",
        "UNRELATED": "x",
    }
    cfg = load_config(p, env=env)
    assert cfg.server.port == 9000 and cfg.server.host == "0.0.0.0"
    assert cfg.server.cors_origins == ["http://a", "http://b"]
    assert cfg.engine.compile is True and cfg.engine.nfe == 8
    assert cfg.engine.vocab == Path.cwd() / "rel" / "vocab.txt"  # env paths resolve against the cwd
    assert cfg.queue.timeout_s == 2.5
    assert cfg.danmaku.raw == {"max_chars": 100}


def test_overrides_beat_env(tmp_path: Path) -> None:
    cfg = load_config(
        None,
        env={"ISHOWTTS__SERVER__PORT": "9000", "ISHOWTTS_DATA_DIR": str(tmp_path)},
        overrides={"server": {"port": 1234, "host": "::1"}},
    )
    assert cfg.server.port == 1234 and cfg.server.host == "::1"


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[engine]\nnfe = 'x'\n", "engine.nfe: must be an int in 1..64, got 'x'"),
        ("[engine]\nnfe = 0\n", "engine.nfe"),
        ("[engine]\nnfe = true\n", "engine.nfe"),
        ("[engine]\nkind = 'gpu'\n", "engine.kind"),
        ("[engine]\ndtype = 'int8'\n", "engine.dtype"),
        ("[engine]\nbuckets = [1, 1]\n", "engine.buckets"),
        ("[engine]\nrenderer = 'graph'\n", "engine.renderer: must be one of static, eager, got 'graph'"),
        ("[engine]\ngraphs = 'yes'\n", 'engine.graphs: must be true, false or "auto"'),
        ("[engine]\nfoo = 1\n", "engine.foo: unknown key"),
        ("[server]\nport = 70000\n", "server.port"),
        ("[server]\ncors_origins = 'x'\n[server.extra]\n", "server.extra: unknown key"),
        ("[server]\nmax_upload_bytes = -1\n", "server.max_upload_bytes"),
        ("[server]\nmax_body_bytes = 2048\n", "server.max_body_bytes: must be >= server.max_upload_bytes"),
        ("[queue]\ntimeout_s = 0\n", "queue.timeout_s"),
        ("[queue]\nmax_size = 1.5\n", "queue.max_size"),
        ("[engine]\ncompile = 1\n", 'engine.compile: must be true, false or "auto"'),
        ("nonsense = 1\n", "nonsense: unknown key"),
        ("server = 3\n", "server: must be a table"),
        ("[[voices]]\nid = '../etc'\n", "voices[0].id"),
        ("[[voices]]\nid = 'a'\n[[voices]]\nid = 'a'\n", "voices[1].id: duplicate"),
        ("[[voices]]\nreference_text = 'x'\n", "voices[0].id: required"),
        (
            "[[voices]]\nid = 'a'\nreference_audio = 'missing.wav'\n",
            "voices[0].reference_audio: file not found",
        ),
        ("[[voices]]\nid = 'a'\ncolour = 'red'\n", "voices[0].colour: unknown key"),
        ("default_voice = 'nope'\n", "default_voice: 'nope' is not a configured voice"),
        ("[server\n", "invalid TOML"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, toml: str, key: str) -> None:
    p = write(tmp_path, toml)
    with pytest.raises(ConfigError) as err:
        load_config(p, env={})
    assert key in str(err.value)


def test_bad_env_override_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"engine\.nfe: must be an int"):
        load_config(env={"ISHOWTTS__ENGINE__NFE": "fast"})
    with pytest.raises(ConfigError, match="ISHOWTTS__NOPE__X: unknown environment override"):
        load_config(env={"ISHOWTTS__NOPE__X": "1"})
    with pytest.raises(ConfigError, match=r"server\.nope: unknown key"):
        load_config(env={"ISHOWTTS__SERVER__NOPE": "1"})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_empty_api_key_means_none(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[server]\napi_key = ""\n'), env={})
    assert cfg.server.api_key is None


def test_example_config_loads_to_the_defaults(tmp_path: Path) -> None:
    env = {"ISHOWTTS_DATA_DIR": str(tmp_path)}
    example = load_config(EXAMPLE, env=env)
    default = load_config(None, env=env)
    example.source = None
    # [normalize] is parsed by the text layer: every key the example shows is exactly its default
    from ishowtts.text.normalize import DEFAULTS, NormalizeOptions

    assert set(example.normalize.raw) == set(NormalizeOptions.field_names())
    assert NormalizeOptions.from_mapping(example.normalize.raw) == DEFAULTS
    example.normalize = default.normalize
    assert example == default


def test_engine_defaults_are_written_once() -> None:
    e = EngineConfig()
    assert e.nfe == defaults.NFE_STEP and e.renderer == defaults.RENDERER
    assert e.buckets == list(defaults.BUCKETS) and e.buckets is not EngineConfig().buckets
    assert e.max_batch == defaults.MAX_BATCH and e.batch_window_ms == defaults.BATCH_WINDOW_MS
    assert e.graphs is defaults.GRAPHS is False
    assert defaults.RENDERER in defaults.RENDERERS


def test_example_config_shows_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for section, cls in (("server", ServerConfig), ("engine", EngineConfig), ("queue", QueueConfig)):
        body = text.split(f"[{section}]\n", 1)[1].split("\n[", 1)[0]
        for f in dataclasses.fields(cls):
            assert re.search(rf"^(# )?{f.name} = ", body, re.MULTILINE), (
                f"{section}.{f.name} not in the example"
            )


def test_engine_renderer_buckets_and_graphs_values(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, '[engine]\nrenderer = "EAGER"\nbuckets = []\ngraphs = "auto"\n'), env={}
    )
    assert cfg.engine.renderer == "eager"
    assert cfg.engine.buckets == list(defaults.BUCKETS)  # [] (the old example's value) = the default buckets
    assert cfg.engine.graphs is None  # "auto": on for CUDA, decided by the engine
    cfg = load_config(env={"ISHOWTTS__ENGINE__GRAPHS": "true", "ISHOWTTS__ENGINE__MAX_BATCH": "1"})
    assert cfg.engine.graphs is True and cfg.engine.max_batch == 1


def test_normalize_section_must_be_a_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="normalize: must be a table"):
        load_config(write(tmp_path, 'normalize = "yes"\n'), env={})


@pytest.mark.parametrize("vid", ["a", "Voice_1", "zh-CN.female", "x" * 64])
def test_valid_voice_ids(vid: str) -> None:
    assert is_valid_voice_id(vid)


@pytest.mark.parametrize("vid", ["", ".hidden", "a/b", "a..b", "../x", "x" * 65, "a b", "é", None, 3])
def test_invalid_voice_ids(vid: object) -> None:
    assert not is_valid_voice_id(vid)
