"""The server on Ray Serve: ``python -m ishowtts serve --ray`` or ``serve run ishowtts.deploy.ray:app``.

Two Serve applications from one config:

* ``ishowtts`` at ``/``: ``Ingress`` (the unchanged FastAPI app: both APIs, the page, ``/api/health``,
  ``/metrics``) -> ``Synthesis`` (one engine and scheduler per replica, ``[scale]`` replicas or
  autoscaling) and ``Registry`` (one replica: every synthesis replica's report, for health and metrics).
* ``ishowtts-danmaku`` at ``/api/danmaku``: ``Danmaku``, always one replica, so a channel is joined once
  however many synthesis replicas run; it speaks through the ``Synthesis`` deployment.

Voices are the one store under ``[server] data_dir`` that every replica reads (:mod:`ishowtts.voices.store`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from ishowtts.config import Config, load_config
from ishowtts.deploy.danmaku_app import create_danmaku_app, metrics_text
from ishowtts.deploy.remote import ClusterView, RemoteBackend, RemoteScheduler, ReplicaCollector, translate
from ishowtts.deploy.replica import Registry, SynthesisReplica
from ishowtts.deploy.settings import ScaleSettings
from ishowtts.engine.backend import SynthesisParams
from ishowtts.engine.factory import Built
from ishowtts.engine.jobs import Priority
from ishowtts.logging_setup import kv
from ishowtts.server.app import create_app
from ishowtts.voices.store import VoiceStore

log = logging.getLogger(__name__)

APP_NAME = "ishowtts"
DANMAKU_APP_NAME = "ishowtts-danmaku"
DANMAKU_PREFIX = "/api/danmaku"


def _handle(deployment: str, app_name: str = APP_NAME) -> DeploymentHandle:
    """A handle, made in this replica, to a deployment that may not be deployed yet (both applications
    start together under KubeRay): calls wait for it. Replicas make their own handles rather than use the
    ones ``bind`` passes (which only tie the deployments into the application): a handle's transport
    defaults (gRPC in high-throughput mode, ``[scale] high_throughput``) are fixed where it is made, and
    the process that built the application may not have had the replicas' environment."""
    return serve.get_deployment_handle(deployment, app_name=app_name, _check_exists=False)


def _replica_id() -> str:
    return serve.get_replica_context().replica_id.unique_id


@serve.deployment(name="Synthesis", health_check_period_s=2, health_check_timeout_s=30, graceful_shutdown_timeout_s=5)
class Synthesis:
    async def __init__(self, config: Config, registry: DeploymentHandle, warmup: bool = False) -> None:
        self._registry = _handle(registry.deployment_name, registry.app_name)
        self.core = SynthesisReplica(config, _replica_id(), report=self._report, warmup=warmup)
        await self.core.start()

    async def _report(self, snapshot: dict[str, Any]) -> None:
        await self._registry.report.remote(snapshot)

    def describe(self) -> dict[str, Any]:
        return self.core.describe()

    async def synthesize(self, req: dict[str, Any]) -> dict[str, Any]:
        return await self.core.synthesize(req)

    async def stream(self, req: dict[str, Any]) -> Any:
        async for item in self.core.stream(req):
            yield item

    async def __del__(self) -> None:
        await self.core.stop()


@serve.deployment(
    name="Registry", num_replicas=1, ray_actor_options={"num_cpus": 0}, logging_config={"enable_access_log": False}
)
class RegistryDeployment(Registry):
    pass


@serve.deployment(name="Ingress", ray_actor_options={"num_cpus": 0})
@serve.ingress()
class Ingress:
    async def __init__(self, config: Config, synthesis: DeploymentHandle, registry: DeploymentHandle) -> None:
        self._config = config
        self._synthesis = _handle(synthesis.deployment_name, synthesis.app_name)
        self._view = ClusterView(_handle(registry.deployment_name, registry.app_name), _handle("Danmaku", DANMAKU_APP_NAME))
        self._desc = await self._synthesis.describe.remote()

    def __serve_build_asgi_app__(self) -> Any:
        d, view = self._desc, self._view

        def remote(observer: Any) -> Built:
            backend = RemoteBackend(d["name"], d["label"], d["sample_rate"], d["vocab_symbols"], d["info"], view)
            scheduler = RemoteScheduler(self._synthesis, view, timeout_s=self._config.queue.timeout_s, observer=observer)
            return Built(backend, scheduler, d["fallback_reason"])  # type: ignore[arg-type]

        app = create_app(self._config, synthesis=remote, danmaku=False)
        app.state.ishowtts.metrics.registry.register(ReplicaCollector(view))
        return app


@serve.deployment(name="Danmaku", num_replicas=1, ray_actor_options={"num_cpus": 0})
@serve.ingress()
class Danmaku:
    async def __init__(self, config: Config) -> None:
        self._config = config
        self._synthesis = _handle("Synthesis")
        self._store = VoiceStore(
            config.server.data_dir, config.voices, "remote", "remote", default_voice=config.default_voice
        )
        self._service: Any = None

    async def _synthesize(self, text: str, voice_id: str, nfe: int | None) -> Any:
        req = RemoteScheduler.request(text, voice_id, SynthesisParams(nfe_step=nfe), Priority.DANMAKU)
        try:
            out = await self._synthesis.synthesize.remote(req)
        except Exception as exc:
            raise translate(exc) from None
        return out["audio"], out["sample_rate"]

    def metrics_text(self) -> str:
        return metrics_text(self._service) if self._service is not None else ""

    def __serve_build_asgi_app__(self) -> Any:
        app, self._service = create_danmaku_app(self._config, self._synthesize, self._store)

        async def at_full_path(scope: Any, receive: Any, send: Any) -> None:
            # Serve mounts this app at /api/danmaku (root_path); its router already names full paths
            if scope["type"] in ("http", "websocket"):
                scope = {**scope, "root_path": ""}
            await app(scope, receive, send)

        return at_full_path


def applications(config: Config, *, warmup: bool = False) -> tuple[Any, Any]:
    """The two Serve applications (``ishowtts``, ``ishowtts-danmaku``) for ``config``."""
    scale = ScaleSettings.from_config(config)
    registry = RegistryDeployment.bind()
    synthesis = Synthesis.options(
        **scale.synthesis_options(config.queue.max_size), max_queued_requests=config.queue.max_size
    ).bind(config, registry, warmup)
    ingress = Ingress.options(num_replicas=scale.ingress_replicas).bind(config, synthesis, registry)
    return ingress, Danmaku.bind(config)


def _config_from_args(args: dict[str, Any]) -> Config:
    path = args.get("config")
    return load_config(Path(path) if path else None)


def app(args: dict[str, Any]) -> Any:
    """``serve run ishowtts.deploy.ray:app config=ishowtts.toml``: the main application."""
    return applications(_config_from_args(args))[0]


def danmaku_app(args: dict[str, Any]) -> Any:
    """``ishowtts.deploy.ray:danmaku_app``: the chat read-aloud application (route prefix /api/danmaku)."""
    return applications(_config_from_args(args))[1]


def start(config: Config, *, warmup: bool = False, blocking: bool = False) -> None:
    """Start (or join) Ray, then run both applications on ``[server] host``/``port``."""
    import ray

    scale = ScaleSettings.from_config(config)
    if not ray.is_initialized():
        applied = scale.apply_ray_env()  # before Ray starts: a local Ray's processes inherit it
        if applied and scale.address:
            log.info("high_throughput: a cluster's processes read these from their own environment (ray start, "
                     "KubeRay); set them there too", extra=kv(**applied))  # fmt: skip
        if scale.address:
            ray.init(address=scale.address, namespace="ishowtts", log_to_driver=True)
        else:  # a local Ray on loopback only
            ray.init(namespace="ishowtts", include_dashboard=False, _node_ip_address="127.0.0.1")
    serve.start(http_options={"host": config.server.host, "port": config.server.port})
    main, chat = applications(config, warmup=warmup)
    serve.run(main, name=APP_NAME, route_prefix="/", blocking=False)
    serve.run(chat, name=DANMAKU_APP_NAME, route_prefix=DANMAKU_PREFIX, blocking=False)
    log.info("ray serve running", extra=kv(url=f"http://{config.server.host}:{config.server.port}", **_layout(scale)))
    if blocking:
        import time

        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            serve.shutdown()


def _layout(scale: ScaleSettings) -> dict[str, Any]:
    return {"replicas": scale.replicas if scale.autoscaling is None else "auto", "ingress_replicas": scale.ingress_replicas}
