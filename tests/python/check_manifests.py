"""Checks packaging/kubernetes/ (run by tests/deploy.rs in the test venv).

    check_manifests.py MANIFEST_DIR TOML_OUT

Every document must be valid against the Kubernetes JSON schemas (kubernetes-validate, strict:
an unknown field is an error) for each Kubernetes version from MIN_VERSION on, and the KEDA
ScaledObject (a custom resource, no schema there) against the fields KEDA 2 documents. Then the
manifests must agree with each other and with the forkhorn.toml of the ConfigMap: selectors and
labels, named ports, the probes and the bind addresses, and the grace period arithmetic of
docs/DEPLOYMENT.md. The ConfigMap's forkhorn.toml is written to TOML_OUT for forkhorn's own
--check-config. Prints one line per check; exits 1 with the failures.
"""

import copy
import pathlib
import sys
import tomllib

import kubernetes_validate
import yaml
from kubernetes_validate.utils import all_versions

# The oldest Kubernetes the manifests are written for.
MIN_VERSION = (1, 28)
# The metrics forkhorn serves that the autoscaler may query.
FORKHORN_METRICS = {
    "forkhorn_requests_total",
    "forkhorn_request_duration_seconds",
    "forkhorn_busy_threads",
    "forkhorn_threads",
    "forkhorn_requests_in_flight",
    "forkhorn_listen_queue_depth",
    "forkhorn_workers",
}
# What a stopping master needs past graceful_timeout: SIGKILL its last workers, reap them, exit.
EXIT_MARGIN_S = 5
# KEDA 2's ScaledObject fields (keda.sh/v1alpha1).
KEDA_SPEC_FIELDS = {
    "scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
    "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers",
}
KEDA_TRIGGER_FIELDS = {"type", "name", "metadata", "metricType", "authenticationRef", "useCachedMetrics"}
KEDA_PROMETHEUS_FIELDS = {
    "serverAddress", "query", "threshold", "activationThreshold", "namespace", "customHeaders",
    "ignoreNullValues", "unsafeSsl", "queryParameters",
}

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)
    return ok


def versions():
    out = []
    # One schema directory per version and strictness: each version once, in order.
    for v in all_versions():
        major, minor = (int(x) for x in v.split(".")[:2])
        if (major, minor) >= MIN_VERSION and v not in out:
            out.append(v)
    return out


def schema_errors(doc, version):
    try:
        kubernetes_validate.validate(doc, version, strict=True)
        return None
    except kubernetes_validate.ValidationError as e:
        return str(e).splitlines()[0]


def port_by_name(container, name):
    for p in container.get("ports", []):
        if p.get("name") == name:
            return p["containerPort"]
    return None


def bind_port(addr):
    return int(addr.rsplit(":", 1)[1])


def check_keda(so, deployment):
    spec = so.get("spec", {})
    check(so.get("apiVersion") == "keda.sh/v1alpha1", "ScaledObject: apiVersion keda.sh/v1alpha1")
    check(set(spec) <= KEDA_SPEC_FIELDS, f"ScaledObject: only KEDA's spec fields ({sorted(set(spec) - KEDA_SPEC_FIELDS)})")
    ref = spec.get("scaleTargetRef", {})
    check(
        ref.get("name") == deployment["metadata"]["name"] and ref.get("kind", "Deployment") == "Deployment",
        "ScaledObject: scaleTargetRef names the Deployment",
    )
    lo, hi = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    check(isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi, "ScaledObject: 1 <= minReplicaCount <= maxReplicaCount")
    triggers = spec.get("triggers", [])
    check(len(triggers) > 0, "ScaledObject: has triggers")
    for t in triggers:
        name = t.get("name", "?")
        md = t.get("metadata", {})
        check(set(t) <= KEDA_TRIGGER_FIELDS, f"trigger {name}: only KEDA's trigger fields")
        check(t.get("type") == "prometheus", f"trigger {name}: the Prometheus scaler")
        check(t.get("metricType", "AverageValue") in ("AverageValue", "Value"), f"trigger {name}: metricType")
        check(set(md) <= KEDA_PROMETHEUS_FIELDS, f"trigger {name}: only the Prometheus scaler's metadata")
        check(str(md.get("serverAddress", "")).startswith("http"), f"trigger {name}: serverAddress is a URL")
        # KEDA reads metadata as strings: a bare number in YAML is refused.
        thr = md.get("threshold")
        check(isinstance(thr, str) and float(thr) > 0, f"trigger {name}: threshold a positive number as a string")
        query = md.get("query", "")
        used = {m for m in FORKHORN_METRICS if m in query}
        check(bool(used), f"trigger {name}: the query reads a forkhorn metric ({sorted(used)})")
        check(query.count("(") == query.count(")") and query.count("{") == query.count("}"), f"trigger {name}: query brackets balance")


def main():
    manifest_dir = pathlib.Path(sys.argv[1])
    toml_out = pathlib.Path(sys.argv[2])
    docs = {}
    for path in sorted(manifest_dir.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is None:
                continue
            kind = doc.get("kind")
            check(bool(doc.get("apiVersion")) and bool(kind) and bool(doc.get("metadata", {}).get("name")),
                  f"{path.name}: apiVersion, kind, metadata.name")
            check(kind not in docs, f"{path.name}: one {kind}")
            docs[kind] = doc
    for kind in ("ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "ScaledObject"):
        if not check(kind in docs, f"a {kind}"):
            return

    vs = versions()
    check(len(vs) >= 2, f"schemas for Kubernetes {vs[0] if vs else '?'} .. {vs[-1] if vs else '?'}")
    for kind, doc in docs.items():
        if kind == "ScaledObject":
            continue
        for v in vs:
            err = schema_errors(doc, v)
            check(err is None, f"{kind} valid against Kubernetes {v} (strict): {err or 'no error'}")

    # The schema check itself catches a misspelt field and a wrong type.
    deployment = docs["Deployment"]
    typo = copy.deepcopy(deployment)
    c = typo["spec"]["template"]["spec"]["containers"][0]
    c["readinesProbe"] = c.pop("readinessProbe")
    check(schema_errors(typo, vs[-1]) is not None, "self-test: a misspelt field (readinesProbe) is refused")
    wrong = copy.deepcopy(deployment)
    wrong["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = "45s"
    check(schema_errors(wrong, vs[-1]) is not None, "self-test: a string for an integer is refused")

    check_keda(docs["ScaledObject"], deployment)

    # The configuration the pods run.
    cm = docs["ConfigMap"]
    toml_text = cm["data"]["forkhorn.toml"]
    cfg = tomllib.loads(toml_text)
    toml_out.write_text(toml_text)

    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    (container,) = pod["containers"]

    def selects(selector):
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    check(selects(spec["selector"]["matchLabels"]), "Deployment: its selector matches its pod labels")
    check(selects(docs["Service"]["spec"]["selector"]), "Service: its selector matches the pod labels")
    check(selects(docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]), "PodDisruptionBudget: its selector matches the pod labels")

    http = port_by_name(container, "http")
    metrics = port_by_name(container, "metrics")
    binds = cfg.get("bind", [])
    binds = [binds] if isinstance(binds, str) else binds
    check(http is not None and any(bind_port(b) == http and not b.startswith("127.") for b in binds),
          f"port http ({http}) is a non-loopback bind address of forkhorn.toml ({binds})")
    mb = cfg.get("metrics_bind", "")
    check(metrics is not None and bool(mb) and bind_port(mb) == metrics and not mb.startswith("127."),
          f"port metrics ({metrics}) is forkhorn.toml's metrics_bind ({mb})")
    for svc_port in docs["Service"]["spec"]["ports"]:
        check(svc_port["targetPort"] in ("http", http), f"Service port {svc_port['port']} targets the http port")
    ready, live = container["readinessProbe"], container["livenessProbe"]
    check(ready["httpGet"]["port"] in ("http", http), "readiness probe: HTTP on the app's port (answered only by a ready worker)")
    check(live["httpGet"]["port"] in ("metrics", metrics) and live["httpGet"]["path"] == "/metrics",
          "liveness probe: /metrics on the metrics port (answered by the master)")
    annotations = spec["template"]["metadata"].get("annotations", {})
    check(annotations.get("prometheus.io/port") == str(metrics), "prometheus.io/port is the metrics port")

    # The config file the container reads is the ConfigMap's.
    args = container.get("args", [])
    cfg_arg = args[args.index("-c") + 1] if "-c" in args else None
    mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    cm_volume = next((n for n, v in volumes.items() if v.get("configMap", {}).get("name") == cm["metadata"]["name"]), None)
    check(cm_volume in mounts and cfg_arg == mounts[cm_volume] + "/forkhorn.toml",
          f"-c {cfg_arg} is the ConfigMap's forkhorn.toml, mounted")
    check(pod["securityContext"].get("runAsNonRoot") is True and "user" not in cfg,
          "runs as non-root (and forkhorn.toml does not switch users)")

    # The arithmetic of a drop-free rolling update.
    grace = pod["terminationGracePeriodSeconds"]
    pre = container["lifecycle"]["preStop"]
    if "sleep" in pre:
        sleep = pre["sleep"]["seconds"]
    else:
        command = pre["exec"]["command"]
        check(command[0] == "sleep" and len(command) == 2, f"preStop is a sleep ({command})")
        sleep = int(command[1])
    graceful = cfg.get("graceful_timeout", 30)
    check(sleep >= 5, f"preStop sleeps {sleep} s: long enough for the endpoint removal to reach kube-proxy and ingresses")
    check(grace >= sleep + graceful + EXIT_MARGIN_S,
          f"terminationGracePeriodSeconds {grace} >= preStop {sleep} + graceful_timeout {graceful} + {EXIT_MARGIN_S}")
    ru = spec["strategy"]["rollingUpdate"]
    check(spec["strategy"]["type"] == "RollingUpdate" and ru["maxUnavailable"] == 0 and ru["maxSurge"] != 0,
          "rolling update: a new pod ready before an old one stops (maxUnavailable 0)")
    minimum = docs["ScaledObject"]["spec"].get("minReplicaCount", 1)
    check(docs["PodDisruptionBudget"]["spec"].get("maxUnavailable", 1) < minimum,
          "a drain at the autoscaler's minimum leaves a pod serving")

    if failures:
        print(f"{len(failures)} failed", file=sys.stderr)
        sys.exit(1)
    print("all manifest checks passed")


main()
