"""Find the F5-TTS checkpoint, its vocab and the Vocos vocoder.

Order, per file: an explicit path; the Hugging Face cache (``HF_HUB_CACHE`` / ``HF_HOME``, the layout
``hf_hub_download`` writes); a hub download with a progress bar when online. Offline and absent gives
:class:`WeightsNotFound`, which names every missing file and the ways to provide it.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from ishowtts.logging_setup import kv

__all__ = [
    "MODELS",
    "VOCOS_FILES",
    "VOCOS_REPO",
    "HubFile",
    "MissingFile",
    "ModelSpec",
    "ResolvedWeights",
    "WeightsNotFound",
    "cache_layout_path",
    "download_weights",
    "hub_offline",
    "resolve_weights",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubFile:
    repo_id: str
    filename: str

    def __str__(self) -> str:
        return f"hf://{self.repo_id}/{self.filename}"


@dataclass(frozen=True)
class MissingFile:
    """One file that was not found: ``name`` is short (a file name or the path that was given),
    ``detail`` says where it was looked for, ``hub`` is set when it comes from the Hugging Face hub."""

    name: str
    detail: str
    hub: HubFile | None = None


class WeightsNotFound(FileNotFoundError):
    """The weights are neither given, nor cached, nor downloadable right now.

    ``missing`` lists every file not found (empty for e.g. an unknown model name), ``cache`` is the
    Hugging Face cache directory that was searched and ``errors`` the failed download attempts, so callers
    can word their own one-line reason."""

    def __init__(
        self,
        message: str,
        missing: tuple[MissingFile, ...] = (),
        cache: str | None = None,
        errors: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.missing = missing
        self.cache = cache
        self.errors = errors

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class ModelSpec:
    name: str  # also the model config name understood by ishowtts.model.load_f5
    ckpt: HubFile
    vocab: HubFile


_F5_REPO = "SWivid/F5-TTS"
MODELS: dict[str, ModelSpec] = {
    "F5TTS_v1_Base": ModelSpec(
        "F5TTS_v1_Base",
        HubFile(_F5_REPO, "F5TTS_v1_Base/model_1250000.safetensors"),
        HubFile(_F5_REPO, "F5TTS_v1_Base/vocab.txt"),
    ),
    "F5TTS_Base": ModelSpec(
        "F5TTS_Base",
        HubFile(_F5_REPO, "F5TTS_Base/model_1200000.safetensors"),
        HubFile(_F5_REPO, "F5TTS_Base/vocab.txt"),
    ),
}
VOCOS_REPO = "charactr/vocos-mel-24khz"
VOCOS_FILES = ("config.yaml", "pytorch_model.bin")


@dataclass(frozen=True)
class ResolvedWeights:
    model: str  # config name
    ckpt: Path
    vocab: Path
    vocoder: Path  # directory with config.yaml + pytorch_model.bin
    sources: dict[str, str] = field(default_factory=dict)  # item -> "explicit" | "cache" | "download"


def hub_offline() -> bool:
    """True when huggingface_hub must not touch the network (HF_HUB_OFFLINE set now or at import)."""
    env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    if env in {"1", "true", "yes", "on"}:
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except Exception:  # pragma: no cover - very old huggingface_hub
        return False


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout_s: float = 3.0) -> bool:
    """One quick DNS + TCP probe of the hub endpoint, so an offline start falls back in seconds instead of
    sitting through huggingface_hub's retry backoff for every file."""
    try:
        from huggingface_hub import constants

        endpoint = getattr(constants, "ENDPOINT", "https://huggingface.co")
    except Exception:  # pragma: no cover
        endpoint = "https://huggingface.co"
    parsed = urllib.parse.urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError as exc:
        log.info("hub not reachable; not downloading", extra=kv(endpoint=endpoint, error=str(exc)))
        return False


def _cache_location(cache_dir: str | os.PathLike[str] | None) -> str:
    if cache_dir is not None:
        return str(cache_dir)
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def cache_layout_path(f: HubFile, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The exact path at which the Hugging Face cache lookup finds ``f``: ``models--OWNER--NAME/
    snapshots/REV/FILENAME``, where REV is the commit ``refs/main`` names, or ``main`` when no download has
    written that ref yet (both are what ``try_to_load_from_cache`` reads)."""
    from huggingface_hub.file_download import repo_folder_name

    repo_dir = Path(_cache_location(cache_dir)) / repo_folder_name(repo_id=f.repo_id, repo_type="model")
    ref = repo_dir / "refs" / "main"
    revision = ref.read_text() if ref.is_file() else "main"
    return repo_dir / "snapshots" / revision / f.filename


def _hub_url(f: HubFile) -> str:
    try:
        from huggingface_hub import constants

        endpoint = str(getattr(constants, "ENDPOINT", "https://huggingface.co")).rstrip("/")
    except Exception:  # pragma: no cover
        endpoint = "https://huggingface.co"
    return f"{endpoint}/{f.repo_id}/resolve/main/{f.filename}"


def _from_cache(f: HubFile, cache_dir: str | os.PathLike[str] | None) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    hit = try_to_load_from_cache(f.repo_id, f.filename, cache_dir=cache_dir)
    if isinstance(hit, str) and Path(hit).is_file():
        return Path(hit)
    return None


def _download(f: HubFile, cache_dir: str | os.PathLike[str] | None) -> Path:
    from huggingface_hub import hf_hub_download

    log.info("downloading weights", extra=kv(file=str(f)))
    return Path(hf_hub_download(f.repo_id, f.filename, cache_dir=cache_dir))  # tqdm progress bar


class _Resolver:
    def __init__(self, cache_dir: str | os.PathLike[str] | None, allow_download: bool) -> None:
        self.cache_dir = cache_dir
        self.allow_download = allow_download
        self.missing: list[MissingFile] = []
        self.errors: list[str] = []
        self.sources: dict[str, str] = {}

    def hub(self, item: str, f: HubFile) -> Path | None:
        path = _from_cache(f, self.cache_dir)
        if path is not None:
            self.sources[item] = "cache"
            return path
        if self.allow_download and not hub_reachable():
            self.errors.append(f"{f}: the Hugging Face hub is not reachable from this machine")
        elif self.allow_download:
            try:
                path = _download(f, self.cache_dir)
                self.sources[item] = "download"
                return path
            except Exception as exc:  # network, auth, disk: reported together below
                self.errors.append(f"{f}: {type(exc).__name__}: {exc}")
        self.missing.append(MissingFile(f.filename.rsplit("/", 1)[-1], str(f), f))
        return None

    def explicit(self, item: str, path: str | os.PathLike[str], want_dir: bool = False) -> Path | None:
        p = Path(path).expanduser()
        ok = p.is_dir() if want_dir else p.is_file()
        if want_dir and ok:
            absent = [name for name in VOCOS_FILES if not (p / name).is_file()]
            if absent:
                names = ", ".join(str(p / name) for name in absent)
                self.missing.append(MissingFile(names, f"{item} directory {p} lacks {', '.join(absent)}"))
                return None
        if not ok:
            kind = "directory" if want_dir else "file"
            self.missing.append(MissingFile(str(p), f"{item} path {p} ({kind} does not exist)"))
            return None
        self.sources[item] = "explicit"
        return p


def _local_model_dir(path: Path) -> tuple[Path | None, Path | None]:
    """A directory holding one checkpoint (model_*.safetensors / .pt) and optionally vocab.txt."""
    ckpts = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.pt"))
    vocab = path / "vocab.txt"
    return (ckpts[-1] if ckpts else None), (vocab if vocab.is_file() else None)


def resolve_weights(
    model: str = "F5TTS_v1_Base",
    ckpt: str | os.PathLike[str] | None = None,
    vocab: str | os.PathLike[str] | None = None,
    vocoder: str | os.PathLike[str] | None = None,
    *,
    config: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    allow_download: bool | None = None,
) -> ResolvedWeights:
    """Locate every file, downloading only what is missing (unless offline or ``allow_download=False``).

    ``model`` is a known name (``F5TTS_v1_Base``, ``F5TTS_Base``), or a local checkpoint file or
    directory (then ``config`` names the architecture, default ``F5TTS_v1_Base``).
    """
    if allow_download is None:
        allow_download = not hub_offline()
    r = _Resolver(cache_dir, allow_download)

    local = Path(str(model)).expanduser()
    if model not in MODELS and (local.is_file() or local.is_dir()):
        if local.is_dir():
            found_ckpt, found_vocab = _local_model_dir(local)
            if found_ckpt is None:
                raise WeightsNotFound(f"no *.safetensors or *.pt checkpoint in model directory {local}")
            ckpt = ckpt or found_ckpt
            vocab = vocab or found_vocab
        else:
            ckpt = ckpt or local
        spec = MODELS.get(config or "F5TTS_v1_Base", MODELS["F5TTS_v1_Base"])
    elif model in MODELS:
        spec = MODELS[model]
    else:
        raise WeightsNotFound(
            f"unknown model {model!r}: use one of {', '.join(MODELS)} or a path to a checkpoint file/directory"
        )
    config_name = config or spec.name

    ckpt_path = r.explicit("checkpoint", ckpt) if ckpt is not None else r.hub("checkpoint", spec.ckpt)
    if vocab is not None:
        vocab_path = r.explicit("vocab", vocab)
    elif ckpt is not None and (Path(ckpt).expanduser().parent / "vocab.txt").is_file():
        vocab_path = Path(ckpt).expanduser().parent / "vocab.txt"
        r.sources["vocab"] = "explicit"
    else:
        vocab_path = r.hub("vocab", spec.vocab)
    if vocoder is not None:
        vocoder_dir = r.explicit("vocoder", vocoder, want_dir=True)
    else:
        files = [r.hub("vocoder", HubFile(VOCOS_REPO, name)) for name in VOCOS_FILES]
        vocoder_dir = files[0].parent if all(files) and files[0] is not None else None
        if vocoder_dir is not None and not all((vocoder_dir / n).is_file() for n in VOCOS_FILES):
            detail = f"hf://{VOCOS_REPO} files are not in one snapshot directory ({vocoder_dir})"
            r.missing.append(MissingFile("vocoder snapshot", detail))
            vocoder_dir = None

    if r.missing or ckpt_path is None or vocab_path is None or vocoder_dir is None:
        cache = _cache_location(cache_dir)
        raise WeightsNotFound(_explain(model, r, cache), tuple(r.missing), cache, tuple(r.errors))
    resolved = ResolvedWeights(config_name, ckpt_path, vocab_path, vocoder_dir, dict(r.sources))
    log.info(
        "weights resolved",
        extra=kv(model=config_name, ckpt=ckpt_path, vocoder=vocoder_dir, sources=resolved.sources),
    )
    return resolved


def _missing_names(missing: tuple[MissingFile, ...] | list[MissingFile]) -> str:
    return ", ".join(m.name for m in missing)


_CONFIG_KEYS = (
    'set [engine] ckpt = ".../model_*.safetensors", vocab = ".../vocab.txt", vocoder = "DIR" in the config '
    "(DIR holds Vocos config.yaml + pytorch_model.bin; synth: --ckpt/--vocab/--vocoder)"
)


def _explain(model: str, r: _Resolver, cache: str) -> str:
    lines = [f"F5-TTS weights for {model!r} not found: missing {_missing_names(r.missing)}.", "Missing:"]
    lines += [f"  - {m.detail}" for m in r.missing]
    if r.errors:
        lines.append("Download attempts failed:")
        lines += [f"  - {e}" for e in r.errors]
    elif not r.allow_download:
        lines.append("Downloading is off (HF_HUB_OFFLINE is set or downloads were disabled).")
    lines += [
        f"Searched the Hugging Face cache at {cache} (set HF_HOME or HF_HUB_CACHE to move it).",
        "Provide them in one of these ways:",
        f"  - online: python -m ishowtts download --model {model if model in MODELS else 'F5TTS_v1_Base'}",
        f"  - {_CONFIG_KEYS}",
        f"  - copy the files into the Hugging Face cache layout under {cache} (models--SWivid--F5-TTS, "
        "models--charactr--vocos-mel-24khz; README: Getting the F5-TTS weights)",
    ]
    return "\n".join(lines)


def _offline_download_message(exc: WeightsNotFound, why: str) -> str:
    """``download`` cannot fetch: say exactly where each file goes (or which config keys to set) instead
    of suggesting to run ``download`` again."""
    cache = exc.cache or _cache_location(None)
    hub = [m.hub for m in exc.missing if m.hub is not None]
    lines = [f"cannot download the F5-TTS weights: {why}.", f"Missing: {_missing_names(exc.missing)}."]
    if hub:
        lines.append(
            "Fetch each file on a machine that is online and put it at the exact path shown "
            f"(the Hugging Face cache layout under {cache}):"
        )
        for f in hub:
            lines += [f"  {_hub_url(f)}", f"    -> {cache_layout_path(f, cache)}"]
    lines.append(f"Or put the files anywhere and {_CONFIG_KEYS}.")
    return "\n".join(lines)


def download_weights(
    model: str = "F5TTS_v1_Base", *, cache_dir: str | os.PathLike[str] | None = None
) -> ResolvedWeights:
    """Fetch whatever is missing into the Hugging Face cache (a clear error when offline)."""
    if model not in MODELS:
        raise WeightsNotFound(f"unknown model {model!r}: use one of {', '.join(MODELS)}")
    offline = hub_offline()
    try:
        return resolve_weights(model, cache_dir=cache_dir, allow_download=not offline)
    except WeightsNotFound as exc:
        if not any(m.hub for m in exc.missing):
            raise
        if offline:
            why = "HF_HUB_OFFLINE is set (unset it to let this machine download)"
        elif not hub_reachable():
            why = "the Hugging Face hub is not reachable from this machine"
        else:
            why = "; ".join(exc.errors) or "the download failed"
        message = _offline_download_message(exc, why)
        raise WeightsNotFound(message, exc.missing, exc.cache, exc.errors) from None
