#!/usr/bin/env python3
"""Builds every kustomization under deploy/kubernetes and checks what it gives, offline.

For the base and each overlay:
  - every resource validates strictly (no unknown field) against the Kubernetes schemas bundled
    with kubernetes-validate (PyPI), for the oldest and the newest version Grove's manifests
    target (--versions);
  - the pieces fit together: the workers dial the Service's name and control port, and the
    coordinator announces its pod address (its state server's port is not in the Service); the Service
    selects the coordinator's pod and exposes the configuration's control, sample and status
    ports; both Jobs ignore disruptions and exit code 75 (a clean drain) in their pod failure
    policy and use restartPolicy Never; each worker pod's terminationGracePeriodSeconds is a few
    seconds longer than the drain the coordinator announces (GROVE_DRAIN_TIMEOUT), and the
    coordinator's covers its drain plus a checkpoint; an overlay's spot node selector is one the
    coordinator's affinity keeps it off, and its toleration is for that same label;
  - with --coordinator (default .build/release/coordinator, when built), the ConfigMap's
    cluster.yaml passes Grove's own strict configuration check.

No kustomize binary is needed: a small builder here does what these kustomizations use
(resources, JSON 6902 patches with a target, images). Where `kustomize` or `kubectl` is on PATH,
its output is compared with the builder's. Prints 'N passed, N failed'.

Usage: scripts/validate-kubernetes.py [--versions 1.31.0,1.37.0] [--coordinator PATH]
"""
import argparse, copy, glob, os, shutil, subprocess, sys, tempfile

import yaml

ROOT = "deploy/kubernetes"
SUPPORTED = {"apiVersion", "kind", "resources", "patches", "images"}


class BuildError(Exception):
    pass


def build(directory):
    """The resources a kustomization directory gives, patched, as a list of dicts."""
    path = os.path.join(directory, "kustomization.yaml")
    with open(path) as f:
        k = yaml.safe_load(f) or {}
    unknown = set(k) - SUPPORTED
    if unknown:
        raise BuildError(f"{path}: {', '.join(sorted(unknown))} not supported by this builder (only {', '.join(sorted(SUPPORTED))})")
    docs = []
    for resource in k.get("resources", []):
        target = os.path.normpath(os.path.join(directory, resource))
        if os.path.isdir(target):
            docs += build(target)
        elif os.path.isfile(target):
            with open(target) as f:
                docs += [d for d in yaml.safe_load_all(f) if d]
        else:
            raise BuildError(f"{path}: resource {resource} does not exist")
    for number, patch in enumerate(k.get("patches", []), 1):
        ops = yaml.safe_load(patch["patch"]) if "patch" in patch else yaml.safe_load(open(os.path.join(directory, patch["path"])))
        matched = [d for d in docs if matches(d, patch.get("target", {}))]
        if not matched:
            raise BuildError(f"{path}: patch {number} matches no resource (target {patch.get('target')})")
        for doc in matched:
            for op in ops:
                apply_op(doc, op, f"{path}: patch {number}")
    for image in k.get("images", []):
        for doc in docs:
            for container in containers(doc):
                name, _, tag = container["image"].partition(":")
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag or 'latest')}"
    return docs


def matches(doc, target):
    group, _, version = doc["apiVersion"].rpartition("/")
    return all([target.get("kind", doc["kind"]) == doc["kind"], target.get("name", doc["metadata"]["name"]) == doc["metadata"]["name"],
                target.get("group", group) == group, target.get("version", version) == version])


def apply_op(doc, op, where):
    """One JSON 6902 operation (add, replace, remove) on doc, in place."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    parent = doc
    for part in parts[:-1]:
        try:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        except (KeyError, IndexError, ValueError):
            raise BuildError(f"{where}: {op['path']}: no {part!r} on the way")
    last = parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if op["op"] == "add":
            parent.insert(index, op["value"])
        elif op["op"] == "replace" and index < len(parent):
            parent[index] = op["value"]
        elif op["op"] == "remove" and index < len(parent):
            del parent[index]
        else:
            raise BuildError(f"{where}: {op['op']} {op['path']}: no element {index}")
    elif op["op"] == "add":
        parent[last] = op["value"]
    elif op["op"] in ("replace", "remove") and last in parent:
        if op["op"] == "replace":
            parent[last] = op["value"]
        else:
            del parent[last]
    else:
        raise BuildError(f"{where}: {op['op']} {op['path']}: nothing there" if op["op"] != "add" else f"{where}: unsupported op {op['op']}")


def pod_spec(doc):
    return doc.get("spec", {}).get("template", {}).get("spec")


def containers(doc):
    spec = pod_spec(doc) or {}
    return spec.get("containers", []) + spec.get("initContainers", [])


def find(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} {kind} named {name} (expected one)")
    return found[0]


def check_fit(docs, overlay):
    """The assertions on how the resources fit together; raises AssertionError naming what does not."""
    config = yaml.safe_load(find(docs, "ConfigMap", "grove-config")["data"]["cluster.yaml"])
    service = find(docs, "Service", "grove-coordinator")
    coordinator = find(docs, "Job", "grove-coordinator")
    workers = find(docs, "Job", "grove-workers")
    find(docs, "PersistentVolumeClaim", "grove-runs")
    ports = {p["port"] for p in service["spec"]["ports"]}
    wanted = {config["coordinator"]["port"], config["dataset"]["serve_port"], config["logging"]["status_port"]}
    assert wanted <= ports, f"Service ports {sorted(ports)} lack {sorted(wanted - ports)} (control, sample and status ports of cluster.yaml)"
    labels = coordinator["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items()), f"the Service selects {service['spec']['selector']}, the coordinator pod is {labels}"
    assert config["workers"]["local"] == 0, "cluster.yaml: workers.local must be 0 (workers are the Job's pods)"
    # Workers fetch a joiner's state from the coordinator's state server, on a port the system
    # picks, at the host the coordinator advertises: that must be its pod address, not the Service.
    assert not config["coordinator"].get("advertise"), "cluster.yaml: coordinator.advertise must stay empty (the state server's port is not in the Service)"
    command = containers(workers)[0]["command"]
    dial = command[command.index("--coordinator") + 1]
    assert dial == f"tcp://{service['metadata']['name']}:{config['coordinator']['port']}", f"workers dial {dial}, not the Service"
    for job, container in [(coordinator, "coordinator"), (workers, "worker")]:
        name = job["metadata"]["name"]
        rules = job["spec"]["podFailurePolicy"]["rules"]
        assert pod_spec(job)["restartPolicy"] == "Never", f"{name}: a pod failure policy needs restartPolicy Never"
        assert any(r["action"] == "Ignore" and any(c["type"] == "DisruptionTarget" and c.get("status", "True") == "True"
                                                   for c in r.get("onPodConditions", [])) for r in rules), f"{name}: disruptions are not ignored"
        assert any(r["action"] == "Ignore" and r.get("onExitCodes", {}).get("operator") == "In" and 75 in r["onExitCodes"]["values"]
                   and r["onExitCodes"].get("containerName") == container for r in rules), f"{name}: exit code 75 (a clean drain) is not ignored"
    assert workers["spec"]["completionMode"] == "Indexed" and workers["spec"]["parallelism"] <= workers["spec"]["completions"]
    assert workers["spec"]["completions"] <= config["workers"]["max"], "more worker indexes than workers.max admits"
    env = {e["name"]: e["value"] for e in containers(coordinator)[0].get("env", [])}
    drain = float(env["GROVE_DRAIN_TIMEOUT"])
    assert "fault_tolerance.drain_timeout=$(GROVE_DRAIN_TIMEOUT)" in containers(coordinator)[0]["command"], "the coordinator does not pass GROVE_DRAIN_TIMEOUT on"
    grace = pod_spec(workers)["terminationGracePeriodSeconds"]
    assert drain + 2 <= grace <= drain + 15, f"workers' terminationGracePeriodSeconds {grace} does not match the drain ({drain:g} s + 2..15 s)"
    assert pod_spec(coordinator)["terminationGracePeriodSeconds"] >= drain + 30, "the coordinator's grace does not cover its drain plus a checkpoint"
    avoided = {(e["key"], v) for term in pod_spec(coordinator)["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
               for e in term["matchExpressions"] if e["operator"] == "NotIn" for v in e["values"]}
    selector = pod_spec(workers).get("nodeSelector", {})
    if overlay != "base":
        assert selector, f"{overlay}: the workers select no node pool"
    for key, value in selector.items():
        assert (key, value) in avoided, f"the coordinator may land on the workers' pool {key}={value}"
    for toleration in pod_spec(workers).get("tolerations", []):
        assert selector.get(toleration["key"]) == toleration.get("value"), f"toleration {toleration} is not for the selected pool"


def check_config_with_grove(docs, coordinator):
    """Grove's own check: exit code 2 is a bad configuration; anything else got past it."""
    text = find(docs, "ConfigMap", "grove-config")["data"]["cluster.yaml"]
    scratch = tempfile.mkdtemp(prefix="grove-k8s-config-")
    try:
        path = os.path.join(scratch, "cluster.yaml")
        with open(path, "w") as f:
            f.write(text)
        # On loopback, in a scratch directory, with no time to wait for workers: the run gives up
        # at once, after the configuration was read and checked.
        result = subprocess.run([coordinator, "run", "--config", path, "--run-dir", os.path.join(scratch, "run"),
                                 "--set", "coordinator.bind=127.0.0.1", "--set", "coordinator.port=0", "--set", "dataset.serve_port=0",
                                 "--set", "logging.status_port=-1", "--set", "fault_tolerance.wait_for_workers=0.01"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode != 2, f"Grove refuses the ConfigMap's cluster.yaml:\n{result.stderr[-1500:]}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def canonical(docs):
    return sorted(yaml.safe_dump(d, sort_keys=True) for d in docs)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", default="1.31.0,1.37.0", help="Kubernetes versions to validate against")
    parser.add_argument("--coordinator", default=".build/release/coordinator")
    args = parser.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    try:
        import kubernetes_validate
    except ImportError:
        sys.exit("kubernetes-validate is not installed: python3 -m pip install kubernetes-validate")
    reference = shutil.which("kustomize") or shutil.which("kubectl")
    results = []

    def check(name, body):
        try:
            body()
            results.append(True)
            print(f"  ok   {name}", flush=True)
        except (AssertionError, BuildError, kubernetes_validate.ValidationError, subprocess.SubprocessError) as error:
            results.append(False)
            print(f"  FAIL {name}: {error}", flush=True)

    directories = [os.path.dirname(p) for p in sorted(glob.glob(f"{ROOT}/**/kustomization.yaml", recursive=True))]
    for directory in directories:
        overlay = os.path.basename(directory)
        try:
            docs = build(directory)
        except (BuildError, OSError, yaml.YAMLError) as error:
            check(f"{directory} builds", lambda: (_ for _ in ()).throw(BuildError(str(error))))
            continue
        print(f"{directory}: {len(docs)} resources", flush=True)
        for version in args.versions.split(","):
            def validate(version=version):
                for doc in docs:
                    try:
                        kubernetes_validate.validate(copy.deepcopy(doc), version, strict=True)
                    except kubernetes_validate.ValidationError as error:
                        raise AssertionError(f"{doc['kind']} {doc['metadata']['name']}: {error.message} at {'/'.join(map(str, error.path))}")
            check(f"{directory} validates strictly against Kubernetes {version}", validate)
        check(f"{directory}: the coordinator, its Service and the workers fit together", lambda: check_fit(docs, overlay))
        if os.access(args.coordinator, os.X_OK):
            check(f"{directory}: Grove accepts the ConfigMap's cluster.yaml", lambda: check_config_with_grove(docs, args.coordinator))
        if reference:
            def same_as_kustomize():
                argv = [reference, "build", directory] if reference.endswith("kustomize") else [reference, "kustomize", directory]
                out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout
                assert canonical(d for d in yaml.safe_load_all(out) if d) == canonical(docs), f"{os.path.basename(reference)} builds something else"
            check(f"{directory}: {os.path.basename(reference)} builds the same", same_as_kustomize)
    if not os.access(args.coordinator, os.X_OK):
        print(f"  (no coordinator at {args.coordinator}: the ConfigMap was not checked by Grove)")
    if not reference:
        print("  (no kustomize or kubectl on PATH: the builder here was not compared with kustomize)")
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
