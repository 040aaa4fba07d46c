"""The deployment manifests hold together: deploy/kuberay/rayservice.yaml uses only field names KubeRay's
RayService defines, its serveConfigV2 and deploy/serve_config.yaml run the same two Ray Serve applications,
and the config they pass (the ConfigMap's TOML) is one ishowtts accepts. docs/scale-out.md explains them.

Nothing here imports ishowtts.deploy: import paths are checked by their form only."""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from ray.serve.schema import ServeApplicationSchema, ServeDeploySchema

from ishowtts import defaults
from ishowtts.config import ServerConfig, load_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
RAYSERVICE = ROOT / "deploy" / "kuberay" / "rayservice.yaml"
SERVE_CONFIG = ROOT / "deploy" / "serve_config.yaml"
# application name -> (route_prefix, import_path): the contract of ishowtts.deploy.ray
APPS = {
    "ishowtts": ("/", "ishowtts.deploy.ray:app"),
    "ishowtts-danmaku": ("/api/danmaku", "ishowtts.deploy.ray:danmaku_app"),
}
IMPORT_PATH = re.compile(r"^ishowtts\.deploy\.ray:(app|danmaku_app)$")
SCALE_KEYS = set(
    "address replicas ingress_replicas num_cpus num_gpus max_ongoing_requests autoscaling high_throughput".split()
)
AUTOSCALING_KEYS = set(  # Ray Serve autoscaling_config keys that [scale.autoscaling] passes through
    "min_replicas max_replicas initial_replicas target_ongoing_requests upscale_delay_s downscale_delay_s "
    "upscaling_factor downscaling_factor metrics_interval_s look_back_period_s".split()
)
GPU = "nvidia.com/gpu"


# ------------------------------------------------------------------------------------ a field-name checker
@dataclass(frozen=True)
class Obj:
    """An object with exactly these fields (None: a scalar or a value this checker does not descend into)."""

    fields: Mapping[str, Field]
    required: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class ListOf:
    item: Obj


class StrMap:
    """A map[string]string (rayStartParams, labels, ConfigMap data): Kubernetes rejects non-string values."""


Field = Obj | ListOf | StrMap | None
STR_MAP = StrMap()


def _obj(names: str, required: str = "", **nested: Field) -> Obj:
    fields: dict[str, Field] = dict.fromkeys(names.split())
    fields.update(nested)
    return Obj(fields, frozenset(required.split()))


def problems(value: Any, schema: Field, path: str = "") -> list[str]:
    """Every unknown field, missing required field and non-string map value under ``value``, by path."""
    if schema is None:
        return []
    if isinstance(schema, StrMap):
        if not isinstance(value, dict):
            return [f"{path}: must be a map"]
        return [
            f"{path}.{k}: must be a string, got {v!r}" for k, v in value.items() if not isinstance(v, str)
        ]
    if isinstance(schema, ListOf):
        if not isinstance(value, list):
            return [f"{path}: must be a list"]
        return [p for i, item in enumerate(value) for p in problems(item, schema.item, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return [f"{path}: must be an object"]
    out = [f"{path}.{k}: unknown field" for k in value if k not in schema.fields]
    out += [f"{path}.{k}: required" for k in sorted(schema.required) if k not in value]
    for k, v in value.items():
        if k in schema.fields:
            out += problems(v, schema.fields[k], f"{path}.{k}")
    return out


# Allow-lists written from KubeRay v1.7.0 (github.com/ray-project/kuberay, tag v1.7.0, commit
# 59d663aeec13760646da3db9c1cf8cfe883e30b7): ray-operator/apis/ray/v1/rayservice_types.go (RayServiceSpec),
# raycluster_types.go (RayClusterSpec, HeadGroupSpec, WorkerGroupSpec, AutoscalerOptions) and, for the
# Kubernetes core/v1 types embedded in them (PodTemplateSpec, Container, Volume, ...), the generated CRD
# ray-operator/config/crd/bases/ray.io_rayservices.yaml (openAPIV3Schema of version v1). `required` is the
# CRD's, plus the apiVersion/kind/metadata every Kubernetes object needs; `status`, which the operator
# writes, is left out on purpose. ObjectMeta is the user-set part of
# k8s.io/apimachinery meta/v1 ObjectMeta; ConfigMap and PersistentVolumeClaim are k8s.io/api core/v1.
OBJECT_META = _obj(
    "name generateName namespace finalizers ownerReferences", labels=STR_MAP, annotations=STR_MAP
)
ENV_VAR = _obj(
    "name value",
    "name",
    valueFrom=_obj(
        "configMapKeyRef fieldRef fileKeyRef resourceFieldRef", secretKeyRef=_obj("key name optional", "key")
    ),
)
CONTAINER = _obj(
    "args command envFrom image imagePullPolicy lifecycle livenessProbe name readinessProbe resizePolicy "
    "restartPolicy restartPolicyRules securityContext startupProbe stdin stdinOnce terminationMessagePath "
    "terminationMessagePolicy tty volumeDevices workingDir",
    "name",
    env=ListOf(ENV_VAR),
    ports=ListOf(_obj("containerPort hostIP hostPort name protocol", "containerPort")),
    resources=_obj("claims limits requests"),
    volumeMounts=ListOf(
        _obj(
            "mountPath mountPropagation name readOnly recursiveReadOnly subPath subPathExpr", "mountPath name"
        )
    ),
)
PVC_SPEC = _obj(
    "accessModes dataSource dataSourceRef selector storageClassName volumeAttributesClassName volumeMode "
    "volumeName",
    resources=_obj("limits requests"),
)
VOLUME = _obj(
    "awsElasticBlockStore azureDisk azureFile cephfs cinder csi downwardAPI emptyDir ephemeral fc flexVolume "
    "flocker gcePersistentDisk gitRepo glusterfs hostPath image iscsi name nfs photonPersistentDisk "
    "portworxVolume projected quobyte rbd scaleIO secret storageos vsphereVolume",
    "name",
    configMap=_obj("defaultMode items name optional"),
    persistentVolumeClaim=_obj("claimName readOnly", "claimName"),
)
POD_SPEC = _obj(
    "activeDeadlineSeconds affinity automountServiceAccountToken dnsConfig dnsPolicy enableServiceLinks "
    "ephemeralContainers hostAliases hostIPC hostNetwork hostPID hostUsers hostname hostnameOverride "
    "imagePullSecrets nodeName os overhead preemptionPolicy priority priorityClassName readinessGates "
    "resourceClaims resources restartPolicy runtimeClassName schedulerName schedulingGates schedulingGroup "
    "securityContext serviceAccount serviceAccountName setHostnameAsFQDN shareProcessNamespace subdomain "
    "terminationGracePeriodSeconds topologySpreadConstraints",
    "containers",
    containers=ListOf(CONTAINER),
    initContainers=ListOf(CONTAINER),
    nodeSelector=STR_MAP,
    tolerations=ListOf(_obj("effect key operator tolerationSeconds value")),
    volumes=ListOf(VOLUME),
)
POD_TEMPLATE = _obj("", metadata=_obj("annotations finalizers labels name namespace"), spec=POD_SPEC)
HEAD_GROUP = _obj(
    "headService enableIngress ingressOptions resources labels serviceType",
    "template",
    rayStartParams=STR_MAP,
    template=POD_TEMPLATE,
)
WORKER_GROUP = _obj(
    "suspend groupName replicas minReplicas maxReplicas idleTimeoutSeconds priority resources labels "
    "scaleStrategy numOfHosts",
    "groupName minReplicas maxReplicas template",
    rayStartParams=STR_MAP,
    template=POD_TEMPLATE,
)
RAY_CLUSTER_SPEC = _obj(
    "upgradeStrategy authOptions suspend managedBy headServiceAnnotations enableInTreeAutoscaling "
    "gcsFaultToleranceOptions historyServerOptions networkPolicy tlsOptions rayVersion",
    "headGroupSpec",
    autoscalerOptions=_obj(
        "args command env envFrom idleTimeoutSeconds image imagePullPolicy resources securityContext "
        "upscalingMode version volumeMounts"
    ),
    headGroupSpec=HEAD_GROUP,
    workerGroupSpecs=ListOf(WORKER_GROUP),
)
RAY_SERVICE_SPEC = _obj(
    "rayClusterDeletionDelaySeconds serviceUnhealthySecondThreshold deploymentUnhealthySecondThreshold "
    "serveService upgradeStrategy managedBy serveConfigV2 excludeHeadPodFromServeSvc suspend",
    "rayClusterConfig",
    rayClusterConfig=RAY_CLUSTER_SPEC,
)
TOP = "apiVersion kind"
SCHEMAS: dict[str, Obj] = {
    "RayService": _obj(TOP, "apiVersion kind metadata spec", metadata=OBJECT_META, spec=RAY_SERVICE_SPEC),
    "ConfigMap": _obj(
        f"{TOP} immutable", "apiVersion kind metadata", metadata=OBJECT_META, data=STR_MAP, binaryData=STR_MAP
    ),
    "PersistentVolumeClaim": _obj(TOP, "apiVersion kind metadata spec", metadata=OBJECT_META, spec=PVC_SPEC),
}


# ------------------------------------------------------------------------------------ reading the manifests
def _documents() -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(RAYSERVICE.read_text(encoding="utf-8")) if d is not None]
    kinds = [d.get("kind") for d in docs]
    assert sorted(kinds) == sorted(SCHEMAS), (
        f"{RAYSERVICE.name}: expected one each of {sorted(SCHEMAS)}, got {kinds}"
    )
    return {d["kind"]: d for d in docs}


def _cluster(rayservice: dict[str, Any]) -> dict[str, Any]:
    return rayservice["spec"]["rayClusterConfig"]


def _pod_specs(rayservice: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    cluster = _cluster(rayservice)
    yield "head", cluster["headGroupSpec"]["template"]["spec"]
    for group in cluster.get("workerGroupSpecs", []):
        yield group["groupName"], group["template"]["spec"]


def _mount_of(pod: dict[str, Any], container: dict[str, Any], predicate: str, name: str) -> str:
    """The mount path, in ``container``, of the pod volume whose ``predicate`` source names ``name``."""
    key = "name" if predicate == "configMap" else "claimName"
    volumes = [v["name"] for v in pod.get("volumes", []) if v.get(predicate, {}).get(key) == name]
    assert len(volumes) == 1, (
        f"{container['name']}: expected one {predicate} volume for {name!r}, got {volumes}"
    )
    mounts = [m["mountPath"] for m in container.get("volumeMounts", []) if m["name"] == volumes[0]]
    assert len(mounts) == 1, f"{container['name']}: volume {volumes[0]!r} is not mounted once: {mounts}"
    return mounts[0]


def _toml(configmap: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (key,) = configmap["data"]
    return key, tomllib.loads(configmap["data"][key])


def app_problems(serve_config: dict[str, Any]) -> list[str]:
    """What is wrong with a Serve config's applications for ishowtts (beyond Ray's own schema)."""
    out = [f"{k}: not a Serve config field" for k in serve_config if k not in ServeDeploySchema.model_fields]
    apps = serve_config.get("applications") or []
    for app in apps:
        out += [
            f"{app.get('name')}.{k}: not an application field"
            for k in app
            if k not in ServeApplicationSchema.model_fields
        ]
        if not IMPORT_PATH.match(str(app.get("import_path"))):
            out.append(
                f"{app.get('name')}.import_path: {app.get('import_path')!r} is not ishowtts.deploy.ray:app|danmaku_app"
            )
        if set(app.get("args") or {}) != {"config"}:
            out.append(f"{app.get('name')}.args: must be exactly {{config: <path>}}, got {app.get('args')!r}")
    for what in ("name", "route_prefix"):
        values = [app.get(what) for app in apps]
        if len(set(values)) != len(values):
            out.append(f"applications: duplicate {what} in {values}")
    found = {app.get("name"): (app.get("route_prefix"), app.get("import_path")) for app in apps}
    if found != APPS:
        out.append(f"applications: expected {APPS}, got {found}")
    return out


def scale_problems(scale: dict[str, Any]) -> list[str]:
    """[scale] keys outside the documented set (docs/scale-out.md), and values of the wrong kind."""
    out = [f"scale.{k}: unknown key" for k in scale if k not in SCALE_KEYS]
    auto = scale.get("autoscaling", {})
    out += [f"scale.autoscaling.{k}: unknown key" for k in auto if k not in AUTOSCALING_KEYS]
    numbers = {**{k: scale[k] for k in SCALE_KEYS - {"address", "autoscaling", "high_throughput"} if k in scale}, **auto}
    out += [
        f"{k}: must be a number >= 0, got {v!r}"
        for k, v in numbers.items()
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0
    ]
    if not isinstance(scale.get("high_throughput", False), bool):
        out.append(f"scale.high_throughput: must be true or false, got {scale['high_throughput']!r}")
    if "address" in scale and not isinstance(scale["address"], str):
        out.append(f"scale.address: must be a string, got {scale['address']!r}")
    low, high = auto.get("min_replicas", 1), auto.get("max_replicas", 1)
    if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high:
        out.append("scale.autoscaling: min_replicas > max_replicas")
    return out


# ------------------------------------------------------------------------------------ the tests
def test_every_document_is_clean() -> None:
    for kind, doc in _documents().items():
        assert problems(doc, SCHEMAS[kind], kind) == []
        assert doc["metadata"]["name"]


HEAD = "spec.rayClusterConfig.headGroupSpec"
WORKER = "spec.rayClusterConfig.workerGroupSpecs.0"
CONTAINER0 = f"{HEAD}.template.spec.containers.0"
DELETE = object()


def _edit(doc: Any, path: str, key: str, value: Any) -> None:
    """``doc`` at the dotted ``path`` (digits index lists) gets ``key = value``, or loses ``key`` (DELETE)."""
    node = doc
    for part in filter(None, path.split(".")):
        node = node[int(part)] if part.isdigit() else node[part]
    if value is DELETE:
        del node[key]
    else:
        node[key] = value


@pytest.mark.parametrize(
    ("path", "key", "value", "expected"),
    [
        (HEAD, "rayStartParam", {}, "headGroupSpec.rayStartParam: unknown field"),
        ("spec", "serveConfig", "", "spec.serveConfig: unknown field"),  # an old KubeRay field, not in ray.io/v1
        ("metadata", "label", {}, "metadata.label: unknown field"),
        (WORKER, "minReplica", 1, "workerGroupSpecs[0].minReplica: unknown field"),
        (WORKER, "groupName", DELETE, "workerGroupSpecs[0].groupName: required"),
        (CONTAINER0, "volumeMount", [], "containers[0].volumeMount: unknown field"),
        (f"{HEAD}.rayStartParams", "num-cpus", 0, "rayStartParams.num-cpus: must be a string"),
        (f"{CONTAINER0}.env.0", "valueFrom", {"secretRef": {}}, "valueFrom.secretRef: unknown field"),
    ],
)
def test_checker_rejects_a_misspelt_manifest(path: str, key: str, value: Any, expected: str) -> None:
    bad = copy.deepcopy(_documents()["RayService"])
    _edit(bad, path, key, value)
    found = problems(bad, SCHEMAS["RayService"], "RayService")
    assert any(expected in p for p in found), found


def test_rayservice_has_what_ishowtts_needs() -> None:
    rs = _documents()["RayService"]
    assert (rs["apiVersion"], rs["kind"]) == ("ray.io/v1", "RayService")
    assert isinstance(rs["spec"]["serveConfigV2"], str)  # a YAML string, not a mapping
    cluster = _cluster(rs)
    assert re.fullmatch(r"\d+\.\d+\.\d+", cluster["rayVersion"])
    pods = dict(_pod_specs(rs))
    assert all(pod["containers"] and pod["containers"][0].get("image") for pod in pods.values())
    (gpu,) = [g for g in cluster["workerGroupSpecs"] if g["groupName"] == "gpu"]
    assert gpu["minReplicas"] <= gpu.get("replicas", gpu["minReplicas"]) <= gpu["maxReplicas"]
    resources = gpu["template"]["spec"]["containers"][0]["resources"]
    assert int(resources["limits"][GPU]) >= 1 and resources["requests"][GPU] == resources["limits"][GPU]


def test_every_pod_runs_serve_in_high_throughput_mode() -> None:
    """``[scale] high_throughput`` is on in the ConfigMap, and Ray Serve reads its variables from each pod's
    environment, not the TOML: every pod sets them."""
    from ishowtts.deploy.settings import HIGH_THROUGHPUT_ENV

    docs = _documents()
    assert _toml(docs["ConfigMap"])[1]["scale"]["high_throughput"] is True
    for name, pod in _pod_specs(docs["RayService"]):
        env = {e["name"]: e.get("value") for e in pod["containers"][0].get("env", [])}
        assert {k: env.get(k) for k in HIGH_THROUGHPUT_ENV} == HIGH_THROUGHPUT_ENV, name


def test_serve_config_v2_runs_both_applications() -> None:
    docs = _documents()
    serve = yaml.safe_load(docs["RayService"]["spec"]["serveConfigV2"])
    ServeDeploySchema.model_validate(serve)  # Ray's own parser: types, duplicate names and prefixes
    assert app_problems(serve) == []
    key, _ = _toml(docs["ConfigMap"])
    for group, pod in _pod_specs(docs["RayService"]):
        for container in pod["containers"]:
            mount = _mount_of(pod, container, "configMap", docs["ConfigMap"]["metadata"]["name"])
            for app in serve["applications"]:
                assert app["args"]["config"] == str(PurePosixPath(mount) / key), (group, app["name"])


@pytest.mark.parametrize(
    ("path", "key", "value", "expected"),
    [
        ("applications.1", "route_prefix", "/", "duplicate route_prefix"),
        ("applications.1", "name", "ishowtts", "duplicate name"),
        ("applications.0", "import_path", "ishowtts.deploy.ray.app", "import_path"),
        ("applications.0", "import_path", "ishowtts.deploy.ray:main", "import_path"),
        ("applications.0", "route_prefx", "/", "route_prefx: not an application field"),
        ("applications.0", "args", {"conifg": "x.toml"}, "args: must be exactly"),
        ("", "http_option", {}, "http_option: not a Serve config field"),
        ("", "applications", [], "applications: expected"),
    ],
)
def test_app_checker_rejects_a_wrong_serve_config(path: str, key: str, value: Any, expected: str) -> None:
    bad = yaml.safe_load(SERVE_CONFIG.read_text(encoding="utf-8"))
    _edit(bad, path, key, value)
    assert any(expected in p for p in app_problems(bad)), app_problems(bad)


def test_ports_hosts_and_volumes_agree() -> None:
    docs = _documents()
    rs, pvc = docs["RayService"], docs["PersistentVolumeClaim"]
    serve = yaml.safe_load(rs["spec"]["serveConfigV2"])
    _, toml = _toml(docs["ConfigMap"])
    assert serve["http_options"] == {"host": "0.0.0.0", "port": toml["server"]["port"]}
    assert toml["server"]["host"] == "0.0.0.0"
    assert "ReadWriteMany" in pvc["spec"]["accessModes"]
    for group, pod in _pod_specs(rs):
        volumes = {v["name"] for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            assert {m["name"] for m in container.get("volumeMounts", [])} <= volumes, group
            ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
            assert ports.get("serve") == toml["server"]["port"], group  # KubeRay's serve Service targets it
            data = _mount_of(pod, container, "persistentVolumeClaim", pvc["metadata"]["name"])
            assert PurePosixPath(toml["server"]["data_dir"]).is_relative_to(data), group
    head = rs["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    head_ports = {p["name"]: p["containerPort"] for p in head["ports"]}
    assert {"gcs-server": 6379, "dashboard": 8265}.items() <= head_ports.items()


def test_configmap_scale_section_fits_the_cluster() -> None:
    docs = _documents()
    _, toml = _toml(docs["ConfigMap"])
    scale = toml["scale"]
    assert scale_problems(scale) == []
    assert scale["address"] == "auto" and scale["num_gpus"] == 1
    auto = scale["autoscaling"]
    workers = _cluster(docs["RayService"])["workerGroupSpecs"]
    gpu_slots = sum(
        g["maxReplicas"] * int(g["template"]["spec"]["containers"][0]["resources"]["limits"].get(GPU, 0))
        for g in workers
    )
    assert auto["max_replicas"] * scale["num_gpus"] <= gpu_slots  # every replica can get its GPU
    max_batch = toml.get("engine", {}).get("max_batch", defaults.MAX_BATCH)
    assert auto["target_ongoing_requests"] >= max_batch  # so a replica's batches can fill


@pytest.mark.parametrize(
    ("scale", "expected"),
    [
        ({"replica": 2}, "scale.replica: unknown key"),
        ({"autoscaling": {"max_replica": 4}}, "scale.autoscaling.max_replica: unknown key"),
        ({"num_gpus": "1"}, "num_gpus: must be a number"),
        ({"address": 1}, "scale.address: must be a string"),
        ({"autoscaling": {"min_replicas": 5, "max_replicas": 2}}, "min_replicas > max_replicas"),
    ],
)
def test_scale_checker_rejects_bad_keys(scale: dict[str, Any], expected: str) -> None:
    assert any(expected in p for p in scale_problems(scale)), scale_problems(scale)


def _drop_tables(text: str, name: str) -> str:
    """``text`` without the TOML tables ``[name]`` and ``[name.*]`` (header to the next other header)."""
    kept: list[str] = []
    dropping = False
    for line in text.splitlines(keepends=True):
        header = re.match(r"\s*\[+\s*([A-Za-z0-9_.-]+)\s*\]+", line)
        if header:
            dropping = header.group(1) == name or header.group(1).startswith(f"{name}.")
        if not dropping:
            kept.append(line)
    return "".join(kept)


def test_configmap_toml_loads_in_ishowtts(tmp_path: Path) -> None:
    configmap = _documents()["ConfigMap"]
    key, toml = _toml(configmap)
    # load_config is given the file without [scale] and [scale.*] (ishowtts.deploy parses those).
    without_scale = _drop_tables(configmap["data"][key], "scale")
    assert tomllib.loads(without_scale) == {k: v for k, v in toml.items() if k != "scale"}
    path = tmp_path / key
    path.write_text(without_scale, encoding="utf-8")
    cfg = load_config(path, env={})
    assert (cfg.server.host, cfg.server.port) == ("0.0.0.0", 8000)
    assert cfg.server.data_dir == Path(toml["server"]["data_dir"])


def test_serve_config_file_matches_the_rayservice() -> None:
    local = yaml.safe_load(SERVE_CONFIG.read_text(encoding="utf-8"))
    ServeDeploySchema.model_validate(local)
    assert app_problems(local) == []
    cluster = yaml.safe_load(_documents()["RayService"]["spec"]["serveConfigV2"])
    pick = lambda c: {a["name"]: (a["route_prefix"], a["import_path"]) for a in c["applications"]}  # noqa: E731
    assert pick(local) == pick(cluster) == APPS
    assert local["proxy_location"] == "HeadOnly"
    server = ServerConfig()  # `serve --ray` binds [server] host/port; the file holds their defaults
    assert local["http_options"] == {"host": server.host, "port": server.port}
    assert {a["args"]["config"] for a in local["applications"]} == {"ishowtts.toml"}
