"""Settings: defaults < TOML file < IDNODE_* environment < command-line flags, and a node that obeys them."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager

import pytest
import requests

from resolver.config import Config
from tests.nodes import REPO, free_port, idnode, wait_ready


def toml(tmp_path, text: str, name: str = "idnode.toml") -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_defaults():
    cfg = Config.load(None, None, environ={})
    assert cfg == Config()
    assert (cfg.data, cfg.http, cfg.https, cfg.map_size, cfg.plain_http_credentials) == (
        "./data", "127.0.0.1:8000", None, 1 << 30, False)


def test_toml_overrides_defaults(tmp_path):
    f = toml(tmp_path, '[node]\ndata = "/srv/idnode"\nhttp = "0.0.0.0:9000"\nmap-size = 4096\n'
                       "plain_http_credentials = true\n")
    cfg = Config.load(f, None, environ={})
    assert (cfg.data, cfg.http, cfg.map_size, cfg.plain_http_credentials) == ("/srv/idnode", "0.0.0.0:9000", 4096, True)
    assert cfg.max_body_bytes == Config().max_body_bytes  # untouched settings keep their defaults
    # Settings may also sit at the top level, without [node].
    assert Config.load(toml(tmp_path, 'http = ":7000"\n', "flat.toml"), None, environ={}).http == ":7000"


def test_environment_overrides_toml(tmp_path):
    f = toml(tmp_path, 'data = "/from/toml"\nhttp = "127.0.0.1:9000"\nmap_size = 4096\n')
    env = {"IDNODE_HTTP": "127.0.0.1:9100", "IDNODE_MAP_SIZE": "8192", "IDNODE_PLAIN_HTTP_CREDENTIALS": "yes",
           "IDNODE_UNRELATED": "x", "HTTP": "ignored"}
    cfg = Config.load(f, None, environ=env)
    assert cfg.data == "/from/toml"  # not in the environment: TOML stands
    assert cfg.http == "127.0.0.1:9100" and cfg.map_size == 8192 and cfg.plain_http_credentials is True
    assert Config.load(f, None, environ={"IDNODE_PLAIN_HTTP_CREDENTIALS": "off"}).plain_http_credentials is False


def test_flags_override_environment(tmp_path):
    f = toml(tmp_path, 'data = "/from/toml"\nhttp = "127.0.0.1:9000"\n')
    env = {"IDNODE_HTTP": "127.0.0.1:9100", "IDNODE_DATA": "/from/env"}
    cfg = Config.load(f, {"http": "127.0.0.1:9200", "data": None, "map_size": 123}, environ=env)
    assert cfg.http == "127.0.0.1:9200"  # the flag wins
    assert cfg.data == "/from/env"  # a flag not given (None) leaves the environment's value
    assert cfg.map_size == 123


def test_environment_is_read_from_the_process_by_default(monkeypatch):
    monkeypatch.setenv("IDNODE_LOG_LEVEL", "debug")
    assert Config.load().log_level == "debug"


@pytest.mark.parametrize("text, words", [
    ('colour = "red"\n', ["unknown setting", "colour"]),
    ('map_size = "1GB"\n', ["map_size", "integer", "1GB"]),
    ("http = 8000\n", ["http", "string"]),
    ('plain_http_credentials = "yes"\n', ["plain_http_credentials", "true or false"]),
    ("http = \n", []),  # not TOML at all
])
def test_bad_toml_is_refused_naming_the_setting(tmp_path, text, words):
    f = toml(tmp_path, text)
    with pytest.raises(ValueError) as err:
        Config.load(f, None, environ={})
    for w in words:
        assert w in str(err.value)


@pytest.mark.parametrize("env, words", [
    ({"IDNODE_MAP_SIZE": "big"}, ["IDNODE_MAP_SIZE", "integer", "big"]),
    ({"IDNODE_PLAIN_HTTP_CREDENTIALS": "perhaps"}, ["IDNODE_PLAIN_HTTP_CREDENTIALS", "true or false"]),
])
def test_bad_environment_is_refused_naming_the_variable(env, words):
    with pytest.raises(ValueError) as err:
        Config.load(None, None, environ=env)
    for w in words:
        assert w in str(err.value)


@contextmanager
def serving(args: list[str], port: int, env: dict | None = None, log=None):
    """`idnode serve` with exactly these arguments and environment; yields its base URL once it answers."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("IDNODE_")}
    full_env.update(env or {})
    proc = subprocess.Popen([sys.executable, "-m", "resolver.cli", "serve", *args], cwd=REPO, env=full_env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url + "/healthz", proc, 20)
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def test_node_started_with_a_config_file(fresh_data, tmp_path, auth):
    port = free_port()
    f = toml(tmp_path, f'[node]\ndata = "{fresh_data}"\nhttp = "127.0.0.1:{port}"\nmax_body_bytes = 2000\n')
    with open(tmp_path / "node.log", "wb") as log, serving(["--config", f], port, log=log) as url:
        r = requests.get(url + "/api/handles/0.NA/88.101.5")
        assert r.status_code == 200 and r.json()["handle"] == "0.NA/88.101.5"  # the data folder from the file
        small = requests.put(url + "/api/handles/88.101.5/CFG-SMALL", headers=auth["owner"],
                             json=[{"index": 1, "type": "URL", "data": "https://x"}])
        assert small.status_code == 201
        big = requests.put(url + "/api/handles/88.101.5/CFG-BIG", headers=auth["owner"],
                           json=[{"index": 1, "type": "URL", "data": "https://x/" + "a" * 3000}])
        assert big.status_code == 413, big.text  # max_body_bytes from the file
        assert big.json()["responseCode"] == 4 and "limit of 2000 bytes" in big.json()["message"]
        assert requests.get(url + "/api/handles/88.101.5/CFG-BIG").status_code == 404


def test_node_started_with_idnode_http_from_the_environment(fresh_data, tmp_path):
    toml_port, env_port, flag_port = free_port(), free_port(), free_port()
    f = toml(tmp_path, f'data = "{fresh_data}"\nhttp = "127.0.0.1:{toml_port}"\n')
    env = {"IDNODE_HTTP": f"127.0.0.1:{env_port}"}
    with open(tmp_path / "env.log", "wb") as log, serving(["--config", f], env_port, env=env, log=log) as url:
        assert requests.get(url + "/api/handles/0.NA/88.101.5").status_code == 200
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{toml_port}/healthz", timeout=2)

    # IDNODE_DATA alone is enough to find the folder; a flag beats the environment.
    env = {"IDNODE_DATA": str(fresh_data), "IDNODE_HTTP": f"127.0.0.1:{env_port}"}
    with open(tmp_path / "flag.log", "wb") as log, \
            serving(["--http", f"127.0.0.1:{flag_port}"], flag_port, env=env, log=log) as url:
        assert requests.get(url + "/api/handles/0.NA/88.101.5").status_code == 200


def test_cli_reports_bad_configuration_without_a_traceback(tmp_path):
    f = toml(tmp_path, 'map_size = "1GB"\n')
    p = idnode("serve", "--config", f, check=False)
    assert p.returncode != 0
    assert "map_size must be an integer" in p.stderr and "Traceback" not in p.stderr
    p = idnode("serve", "--config", str(tmp_path / "missing.toml"), check=False)
    assert p.returncode != 0 and "missing.toml" in p.stderr and "Traceback" not in p.stderr
