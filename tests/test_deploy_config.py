"""Each deploy file's effective configuration, rendered through the node's own loader (Config.load,
with the environment, the file and the flags in the order `idnode serve` applies them), is what the
file's comments say: a Kubernetes node takes credentials behind its ingress and publishes its pod's
address, a plain `docker run` publishes its container's address, the compose nodes the fixed ones
they are given, the systemd unit its flags over node.toml. And the alert rules pass their promtool
unit tests (deploy/prometheus/alerts_test.yml)."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from resolver.cli.main import parser
from resolver.config import Config
from tests.nodes import REPO

DEPLOY = REPO / "deploy"
POD_IP = "10.244.1.7"


def image_env() -> dict[str, str]:
    return dict(DockerfileParser(path=str(DEPLOY / "Dockerfile")).envs)


def render(argv: list[str], env: dict[str, str], files: dict[str, Path] | None = None) -> Config:
    """The configuration `idnode ARGV` runs with under ``env``; ``files`` maps a path the deploy file
    names (/etc/idnode/node.toml) to the repository's copy."""
    args = parser().parse_args(argv)
    config = getattr(args, "config", None)
    if config is not None:
        config = str((files or {}).get(config, config))
    return Config.load(config, {k: getattr(args, k) for k in args.settings}, environ=env)


def k8s_env(container: dict) -> dict[str, str]:
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        elif e["valueFrom"].get("fieldRef", {}).get("fieldPath") == "status.podIP":
            env[e["name"]] = POD_IP
        else:
            env[e["name"]] = "from-a-secret"
    return env


def test_kubernetes_node_takes_credentials_behind_its_ingress_and_publishes_its_pod(tmp_path):
    docs = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / "idnode.yaml").read_text()) if d]
    config_map = next(d for d in docs if d["kind"] == "ConfigMap")
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")["mountPath"]
    toml = tmp_path / "node.toml"
    toml.write_text(config_map["data"]["node.toml"])
    cfg = render(container["args"], {**image_env(), **k8s_env(container)}, {f"{mount}/node.toml": toml})
    # "Behind an ingress that terminates TLS, credentials arrive over plain HTTP": accepted.
    assert cfg.plain_http_credentials is True
    # HS_SITE carries the pod's address, not loopback.
    assert cfg.advertise == POD_IP
    assert (cfg.http, cfg.handle, cfg.workers, cfg.log_format) == ("0.0.0.0:8000", "0.0.0.0:2641", 2, "json")
    data_mount = next(m for m in container["volumeMounts"] if m["name"] == "data")["mountPath"]
    assert cfg.data == data_mount
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000, "handle-tcp": 2641, "handle-udp": 2641}
    assert "once those roles exist" not in (DEPLOY / "kubernetes" / "idnode.yaml").read_text()


def entrypoint(tmp_path: Path, env: dict[str, str], container_ip: str) -> tuple[dict, list[str], str]:
    """Run deploy/docker-entrypoint.sh with ``idnode`` and ``python`` stand-ins that report what the
    image would run: (environment, argv, standard error)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    report = tmp_path / "exec.json"
    (bin_dir / "idnode").write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -c 'import json, os, sys; "
                                    f"json.dump({{\"env\": dict(os.environ), \"argv\": sys.argv[1:]}}, "
                                    f"open(\"{report}\", \"w\"))' \"$@\"\n")
    (bin_dir / "python").write_text(f"#!/bin/sh\necho {container_ip}\n")  # gethostbyname(gethostname())
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    p = subprocess.run(["sh", str(DEPLOY / "docker-entrypoint.sh"), "serve"], capture_output=True, text=True,
                       env={**env, "PATH": f"{bin_dir}:/usr/bin:/bin"}, timeout=30)
    assert p.returncode == 0, p.stderr
    out = json.loads(report.read_text())
    return out["env"], out["argv"], p.stderr


def test_docker_run_publishes_the_containers_address_and_keeps_credentials_off_plain_http(tmp_path):
    env, argv, said = entrypoint(tmp_path, image_env(), "172.17.0.2")
    cfg = render(argv, env)
    assert cfg.advertise == "172.17.0.2" and "set IDNODE_ADVERTISE" in said
    assert cfg.plain_http_credentials is False  # no ingress in front: HTTPS or loopback only
    assert (cfg.http, cfg.handle, cfg.data) == ("0.0.0.0:8000", "0.0.0.0:2641", "/var/lib/idnode")
    # An address given wins; a container whose name maps to loopback advertises nothing made up.
    env, argv, _ = entrypoint(tmp_path, {**image_env(), "IDNODE_ADVERTISE": "192.0.2.10"}, "172.17.0.2")
    assert render(argv, env).advertise == "192.0.2.10"
    env, argv, _ = entrypoint(tmp_path, image_env(), "127.0.1.1")
    assert render(argv, env).advertise is None


def test_compose_nodes_publish_their_fixed_addresses_and_register_with_the_top_node():
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    nodes = {name: s for name, s in doc["services"].items() if s.get("image", "").startswith("idnode")}
    cfgs = {}
    for name, s in nodes.items():
        env = {**image_env(), **{k: str(v) for k, v in s["environment"].items()}}
        cfgs[name] = cfg = render(s.get("command", ["serve"]), env)
        assert cfg.advertise == s["networks"]["idnet"]["ipv4_address"], name
        assert (cfg.workers, cfg.log_format) == (2, "json")
    top = nodes["top"]
    assert cfgs["top"].role == "top"
    delegates = dict(d.split("=") for d in top["environment"]["IDNODE_DELEGATES"].split())
    for name, cfg in cfgs.items():
        if name == "top":
            continue
        prefix = nodes[name]["environment"]["IDNODE_PREFIX"]
        assert cfg.upstream == [f"{cfgs['top'].advertise}:2641"], name
        assert cfg.upstream_identity == f"300:0.NA/{prefix}" and cfg.upstream_secret == delegates[prefix], name


def test_systemd_flags_win_over_node_toml_and_the_folder_is_made_before_init():
    unit = ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    text = (DEPLOY / "systemd" / "idnode.service").read_text()
    unit.read_string(text)
    argv = shlex.split(unit["Service"]["ExecStart"])
    cfg = render(argv[1:], {"PYTHONUNBUFFERED": "1"}, {"/etc/idnode/node.toml": DEPLOY / "systemd" / "node.toml"})
    assert (cfg.data, cfg.workers, cfg.log_format) == ("/var/lib/idnode", 4, "json")  # from ExecStart
    assert (cfg.http, cfg.handle, cfg.log_level) == ("0.0.0.0:8000", "0.0.0.0:2641", "info")  # from node.toml
    assert unit["Service"]["ReadWritePaths"] == cfg.data
    # The comment's steps work in their order: the folder exists before `idnode init` writes to it.
    assert text.index("install -d -o idnode") < text.index("idnode init --data /var/lib/idnode")
    assert "Documentation" not in unit["Unit"]  # nothing installs a document to point at


def test_alert_rules_pass_their_unit_tests():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; .ci/run installs it)")
    p = subprocess.run([promtool, "test", "rules", "alerts_test.yml"], cwd=DEPLOY / "prometheus",
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
