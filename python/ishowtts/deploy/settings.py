"""``[scale]``: how ``serve --ray`` lays the server out on Ray Serve. Every key is optional.

```toml
[scale]
address = ""              # "" = start a local Ray on 127.0.0.1; "auto" = join `ray start`'s cluster; "ray://..."
replicas = 2              # synthesis replicas (ignored when [scale.autoscaling] is set)
ingress_replicas = 1      # FastAPI ingress replicas
num_cpus = 1.0            # per synthesis replica (ray_actor_options)
num_gpus = 0.0            # per synthesis replica; 1 on GPU nodes
max_ongoing_requests = 0  # per synthesis replica; 0 = [queue] max_size (our scheduler bounds and batches)

[scale.autoscaling]       # Ray Serve's autoscaling_config for the synthesis deployment, passed through
min_replicas = 1
max_replicas = 4
target_ongoing_requests = 4
```

The HTTP address is ``[server] host``/``port``; the voices live in ``[server] data_dir``, which every
replica must see (a shared filesystem on several nodes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ishowtts.config import Config, ConfigError

AUTOSCALING_KEYS = frozenset(
    {
        "min_replicas",
        "max_replicas",
        "initial_replicas",
        "target_ongoing_requests",
        "upscale_delay_s",
        "downscale_delay_s",
        "upscaling_factor",
        "downscaling_factor",
        "metrics_interval_s",
        "look_back_period_s",
    }
)
_KEYS = {"address", "replicas", "ingress_replicas", "num_cpus", "num_gpus", "max_ongoing_requests", "autoscaling"}


@dataclass(frozen=True)
class ScaleSettings:
    address: str = ""
    replicas: int = 2
    ingress_replicas: int = 1
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    max_ongoing_requests: int = 0
    autoscaling: dict[str, Any] | None = None

    @classmethod
    def from_config(cls, config: Config) -> ScaleSettings:
        raw = dict(config.scale.raw)
        unknown = sorted(set(raw) - _KEYS)
        if unknown:
            raise ConfigError(f"scale: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})")
        address = raw.get("address", cls.address)
        if not isinstance(address, str):
            raise ConfigError(f"scale.address: must be a string, got {address!r}")
        auto = raw.get("autoscaling")
        if auto is not None:
            if not isinstance(auto, dict):
                raise ConfigError(f"scale.autoscaling: must be a table, got {auto!r}")
            bad = sorted(set(auto) - AUTOSCALING_KEYS)
            if bad:
                raise ConfigError(f"scale.autoscaling: unknown key(s) {', '.join(bad)}")
            for key, value in auto.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise ConfigError(f"scale.autoscaling.{key}: must be a number, got {value!r}")
                if value < 0 or (key.endswith("replicas") and value != int(value)):
                    raise ConfigError(f"scale.autoscaling.{key}: must be a non-negative count, got {value!r}")
            lo, hi = auto.get("min_replicas", 1), auto.get("max_replicas", 1)
            if hi < 1 or lo > hi:
                raise ConfigError("scale.autoscaling: need 1 <= max_replicas and min_replicas <= max_replicas")
        return cls(
            address=address.strip(),
            replicas=_count(raw, "replicas", cls.replicas, minimum=1),
            ingress_replicas=_count(raw, "ingress_replicas", cls.ingress_replicas, minimum=1),
            num_cpus=_amount(raw, "num_cpus", cls.num_cpus),
            num_gpus=_amount(raw, "num_gpus", cls.num_gpus),
            max_ongoing_requests=_count(raw, "max_ongoing_requests", cls.max_ongoing_requests, minimum=0),
            autoscaling=dict(auto) if auto is not None else None,
        )

    def synthesis_options(self, queue_size: int) -> dict[str, Any]:
        """``serve.deployment(...).options(**this)`` for the synthesis deployment. Each replica takes as
        many requests as its own queue holds, so the masked batcher sees them and a full queue still
        answers 429 + Retry-After."""
        opts: dict[str, Any] = {
            "ray_actor_options": {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus},
            "max_ongoing_requests": self.max_ongoing_requests or queue_size + 1,
        }
        if self.autoscaling is not None:
            opts["autoscaling_config"] = dict(self.autoscaling)
        else:
            opts["num_replicas"] = self.replicas
        return opts


def _count(raw: dict[str, Any], key: str, default: int, *, minimum: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"scale.{key}: must be an integer >= {minimum}, got {value!r}")
    return value


def _amount(raw: dict[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"scale.{key}: must be a number >= 0, got {value!r}")
    return float(value)
