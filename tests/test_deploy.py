"""deploy/: the files an operator deploys with parse, name only files that exist, validate against
their schemas, and watch only metrics the node exports."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import time
from configparser import ConfigParser
from pathlib import Path

import kubernetes_validate
import pytest
import requests
import yaml
from dockerfile_parse import DockerfileParser

from resolver.cli.main import parser
from tests.nodes import REPO, Node, free_port, init_data

DEPLOY = REPO / "deploy"
K8S_VERSION = "1.30.0"


def test_dockerfile_copies_only_what_exists_and_runs_unprivileged_with_a_health_check():
    df = DockerfileParser(path=str(DEPLOY / "Dockerfile"))
    instructions = df.structure
    copies = [i["value"].split() for i in instructions if i["instruction"] == "COPY"]
    assert copies
    for parts in copies:
        if parts[0].startswith("--from="):
            continue
        for src in parts[:-1]:
            assert (REPO / src).exists(), f"COPY {src}: not in the repository"
    users = [i["value"] for i in instructions if i["instruction"] == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert any(i["instruction"] == "HEALTHCHECK" and "/readyz" in i["value"] for i in instructions)
    entry = (DEPLOY / "docker-entrypoint.sh")
    assert entry.stat().st_mode & 0o111, "the entrypoint is executable"


def test_compose_file_parses_and_names_existing_files():
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = doc["services"]
    assert {"top", "secondary-101", "secondary-102", "prometheus", "grafana"} <= set(services)
    for name, svc in services.items():
        build = svc.get("build")
        if build:
            context = (DEPLOY / build["context"]).resolve()
            assert (context / build["dockerfile"]).is_file(), name
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith((".", "/")):
                assert (DEPLOY / src).exists(), f"{name}: {src} does not exist"
            else:
                assert src in doc["volumes"], f"{name}: volume {src} is not declared"


def test_kubernetes_manifests_validate_against_the_schema():
    docs = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / "idnode.yaml").read_text()) if d]
    kinds = {d["kind"] for d in docs}
    assert {"StatefulSet", "Service", "ConfigMap"} <= kinds
    for d in docs:
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    pod = sts["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"]
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    # The container's arguments are ones `idnode` accepts.
    parser().parse_args(container["args"])


def test_systemd_unit_runs_a_command_idnode_accepts():
    unit = ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(DEPLOY / "systemd" / "idnode.service")
    argv = shlex.split(unit["Service"]["ExecStart"])
    assert argv[0].endswith("/idnode")
    args = parser().parse_args(argv[1:])
    assert args.workers >= 2 and args.log_format == "json"
    assert "-HUP" in unit["Service"]["ExecReload"]
    assert unit["Service"]["User"] != "root"


def test_prometheus_rules_and_config_pass_promtool():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; .ci/run installs it)")
    p = subprocess.run([promtool, "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    p = subprocess.run([promtool, "check", "config", "--syntax-only", str(DEPLOY / "prometheus" / "prometheus.yml")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


_NAME = re.compile(r"\b(idnode_[a-z0-9_]+|up)\b")


def exported_names(text: str) -> set[str]:
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def federated_names(tmp_path: Path) -> set[str]:
    """What a secondary node whose top-level node is down exports (the outbox families)."""
    data = tmp_path / "fed"
    init_data(data)
    fed = Node(data, "--upstream", f"127.0.0.1:{free_port()}", "--upstream-identity", "300:0.NA/88.101",
               "--upstream-secret", "not-reachable-anyway").start()
    try:
        # A handle served elsewhere, with nobody upstream to ask: counted as a failed remote resolution.
        assert requests.get(fed.api("99.1/X"), timeout=30).status_code == 502
        deadline = time.monotonic() + 20
        while True:
            names = exported_names(requests.get(fed.url + "/metrics").text)
            if {"idnode_upstream_failing", "idnode_remote_resolutions_total"} <= names or time.monotonic() > deadline:
                return names
            time.sleep(0.2)
    finally:
        fed.stop()


def test_dashboard_and_alerts_query_only_metrics_the_node_exports(node, auth, tmp_path):
    # A write, a read and a miss, so every family has samples.
    requests.put(node.api("88.101.5/D-1"), headers={"Content-Type": "application/json", **auth["owner"]},
                 json={"values": [{"index": 1, "type": "URL", "data": "https://acme.example/d1"}]})
    requests.get(node.api("88.101.5/D-1"))
    exported = exported_names(requests.get(node.url + "/metrics").text) | federated_names(tmp_path) | {"up"}
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "idnode.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    used = {m for e in exprs for m in _NAME.findall(e)}
    assert used, "the queries name metrics"
    assert used <= exported, f"not exported: {sorted(used - exported)}"
    # Every file Grafana's provisioning points at exists in the compose mounts.
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "idnode.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert Path(DEPLOY / "grafana" / "dashboards").is_dir()
