"""``[scale]``: how ``serve --ray`` lays the server out on Ray Serve. Every key is optional.

```toml
[scale]
address = ""              # "" = start a local Ray on 127.0.0.1; "auto" = join `ray start`'s cluster; "ray://..."
replicas = 2              # synthesis replicas (ignored when [scale.autoscaling] is set)
ingress_replicas = 1      # FastAPI ingress replicas
num_cpus = 1.0            # per synthesis replica (ray_actor_options)
num_gpus = 0.0            # per synthesis replica; 1 on GPU nodes
max_ongoing_requests = 0  # per synthesis replica; 0 = [queue] max_size (our scheduler bounds and batches)
high_throughput = false   # Ray Serve's high-throughput mode (HAProxy ingress, gRPC between replicas)

[scale.autoscaling]       # Ray Serve's autoscaling_config for the synthesis deployment, passed through
min_replicas = 1
max_replicas = 4
target_ongoing_requests = 4
```

The HTTP address is ``[server] host``/``port``; the voices live in ``[server] data_dir``, which every
replica must see (a shared filesystem on several nodes).

``high_throughput`` turns on Ray Serve's high-throughput mode (Ray >= 2.55): HAProxy (the binary that
``ray[serve]`` bundles) takes HTTP on ``port`` and forwards it to the ingress replicas' own HTTP servers
(direct ingress), and replicas call each other over gRPC on their own event loops. On a 2-vCPU VM it cut
what Ray adds to the p50 time to first byte from 10.2 ms to 2.5 ms (docs/scale-out.md). It is off by
default because HAProxy also opens its stats (8404) and Prometheus (9101) listeners on every interface,
and Ray 2.60 has no setting to keep them on loopback; the KubeRay manifest turns it on, where the pod
network is the boundary. Ray reads it from environment variables when its processes start
(:meth:`ScaleSettings.ray_env`): ``serve --ray`` sets them before it starts a local Ray; a cluster of
``ray start`` or KubeRay needs them in its own environment. A variable already set in the environment
wins over this key.
"""

from __future__ import annotations

import math
import os
from collections.abc import MutableMapping
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
_KEYS = {
    "address", "replicas", "ingress_replicas", "num_cpus", "num_gpus", "max_ongoing_requests", "autoscaling",
    "high_throughput",
}  # fmt: skip
# Ray Serve's high-throughput mode, read by every Serve process (controller, proxy, replicas) at start
HIGH_THROUGHPUT_ENV = {"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1", "RAY_SERVE_ENABLE_HA_PROXY": "1"}
# A local Ray only: an ingress replica that stops waits this long for HAProxy to drop it. Ray's default, 30 s,
# is for load balancers on other machines; here HAProxy runs beside the controller that reconfigures it, and
# it retries a refused connection. So stopping ``serve --ray`` takes seconds, not 35 s.
LOCAL_HIGH_THROUGHPUT_ENV = {"RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "5"}


@dataclass(frozen=True)
class ScaleSettings:
    address: str = ""
    replicas: int = 2
    ingress_replicas: int = 1
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    max_ongoing_requests: int = 0
    autoscaling: dict[str, Any] | None = None
    high_throughput: bool = False

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
        high_throughput = raw.get("high_throughput", cls.high_throughput)
        if not isinstance(high_throughput, bool):
            raise ConfigError(f"scale.high_throughput: must be true or false, got {high_throughput!r}")
        return cls(
            address=address.strip(),
            high_throughput=high_throughput,
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

    def ray_env(self) -> dict[str, str]:
        """The environment variables Ray Serve's processes need for these settings (empty when
        ``high_throughput`` is off: Ray's defaults). A local Ray (no ``address``) also gets a short drain."""
        if not self.high_throughput:
            return {}
        return {**HIGH_THROUGHPUT_ENV, **({} if self.address else LOCAL_HIGH_THROUGHPUT_ENV)}

    def apply_ray_env(self, environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
        """Put :meth:`ray_env` into ``environ`` where a variable is not set already (the environment wins);
        return what was set. Call it before Ray starts: a local Ray's processes inherit this environment."""
        applied = {k: v for k, v in self.ray_env().items() if k not in environ}
        environ.update(applied)
        return applied


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
