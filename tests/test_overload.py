"""Overload (acceptance): five times what the node can answer, over HTTP and UDP at once, from many
client addresses, for a few seconds. The node sheds it with 429 and RC 3, answers nothing else, keeps
answering /healthz promptly, and serves normally within a second of the load stopping.

The node's capacity is measured first, on this machine, as answers a second with no pacing; the load
is then paced at five times that. Over TCP the kernel holds back what the node does not read (so the
requests offered and those written differ); over UDP the excess is dropped, as on a network."""

from __future__ import annotations

import signal
import socket
import struct
import subprocess
import sys
import time

import pytest
import requests

from protocol import bodies as b
from protocol.envelope import Op
from protocol.message import encode
from tests import handle_nodes as hn
from tests.nodes import ENTERPRISES, basic
from tests.overload import HttpFlood, UdpFlood, sources

pytestmark = pytest.mark.serial  # measures the node's capacity, then floods it at five times that: run alone

LOAD_SECONDS = 2.0
HTTP_SOURCES = 20
HANDLE = "88.101.5/OVERLOAD"


def udp_resolve_from(node, source: str, datagram: bytes, timeout: float = 0.3) -> int | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.sendto(datagram, ("127.0.0.1", node.handle_port))
        try:
            return struct.unpack_from(">I", s.recv(65535), 24)[0]
        except TimeoutError:
            return None


# /healthz on a fresh connection every 100 ms, as an orchestrator's probe would; in a process of its
# own, so that the load generator's threads do not delay the probe itself.
PROBE = """
import sys, time, requests
url, stop = sys.argv[1], sys.argv[2]
import os
while not os.path.exists(stop):
    t0 = time.monotonic()
    try:
        code = requests.get(url, timeout=5).status_code
    except requests.RequestException as e:
        code = repr(e).replace(" ", "_")
    print(f"{time.monotonic() - t0:.4f} {code}", flush=True)
    time.sleep(0.1)
"""


def start_probe(node, stop_file) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PROBE, node.url + "/healthz", str(stop_file)],
                            stdout=subprocess.PIPE, text=True)


def probe_results(proc: subprocess.Popen, stop_file) -> tuple[list[float], list[str]]:
    stop_file.write_text("stop")
    out, _ = proc.communicate(timeout=10)
    latencies, failures = [], []
    for line in out.split("\n"):
        if line:
            seconds, code = line.split()
            latencies.append(float(seconds))
            if code != "200":
                failures.append(code)
    return latencies, failures


def test_overload_is_shed_and_the_node_recovers(fresh_data, tmp_path):
    cfg = tmp_path / "node.toml"
    cfg.write_text("")  # the defaults while capacity is measured
    node = hn.start(fresh_data, "--config", str(cfg))
    try:
        owner = {"Authorization": basic("300:0.NA/88.101.5", ENTERPRISES["88.101.5"]),
                 "Content-Type": "application/json"}
        requests.put(node.api(HANDLE), json=[{"index": 1, "type": "URL", "data": "https://example.com/o"}],
                     headers=owner).raise_for_status()
        path = f"/api/handles/{HANDLE}"
        datagram = encode(hn.client(node).message(Op.RESOLUTION, b.ResolutionRequest(HANDLE)))

        # Capacity: resolutions answered a second with nothing paced, at the default limits (which
        # refuse nothing of it) ...
        calibration = HttpFlood(node.port, path, sources(4, first=100), 4, rate=1e7).run(1.0)
        http_cap = calibration.answered
        assert calibration.answers[200] == http_cap > 500, calibration
        calibration = UdpFlood(node.handle_port, datagram, sources(4, first=110), window=256).run(1.0)
        udp_cap = calibration.answered
        assert calibration.answers[1] == udp_cap > 500, calibration
        # ... then a low rate per address, applied in place by SIGHUP: all the HTTP sources together
        # may use an eighth of the capacity (their bursts another eighth), whatever this machine's
        # speed, so that most of what the node manages to answer under load (a refusal costs about
        # what an answer does) must be refusals.
        rate = max(5, http_cap // (8 * HTTP_SOURCES))
        cfg.write_text(f"rate_per_address = {rate}\n")
        node.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "configuration reloaded" not in node.log.read_text():
            assert time.monotonic() < deadline, node.log.read_text()
            time.sleep(0.05)

        # Five times that, from 20 + 10 addresses, while /healthz is probed.
        stop_file = tmp_path / "stop-probing"
        prober = start_probe(node, stop_file)
        http_tally = HttpFlood(node.port, path, sources(HTTP_SOURCES), 2, rate=5 * http_cap).run(LOAD_SECONDS)
        udp_tally = UdpFlood(node.handle_port, datagram, sources(10, first=30), rate=5 * udp_cap).run(LOAD_SECONDS)
        stopped = time.monotonic()

        # Recovery: a load address is served again, over both protocols, within a second.
        while True:
            ok_http = requests.get(node.api(HANDLE), timeout=2).status_code == 200
            ok_udp = udp_resolve_from(node, "127.0.0.30", datagram) == 1
            conn_ok = requests.get(node.url + "/healthz", timeout=2).status_code == 200
            if ok_http and ok_udp and conn_ok:
                recovered = time.monotonic() - stopped
                break
            assert time.monotonic() - stopped < 5, "the node did not recover"
        latencies, failures = probe_results(prober, stop_file)

        report = (f"capacity http {http_cap}/s udp {udp_cap}/s; http offered {http_tally.offered} sent "
                  f"{http_tally.sent} answers {dict(http_tally.answers)}; udp offered {udp_tally.offered} sent "
                  f"{udp_tally.sent} answers "
                  f"{dict(udp_tally.answers)}; healthz max {max(latencies):.3f} s over {len(latencies)}; "
                  f"recovered in {recovered:.3f} s")
        print(report)
        # The load was five times capacity, and was shed: most of it refused, nothing but 200/429/503.
        assert http_tally.offered >= 5 * http_cap * LOAD_SECONDS * 0.9, report
        assert udp_tally.offered >= 5 * udp_cap * LOAD_SECONDS * 0.9, report
        assert udp_tally.sent >= 2 * udp_cap * LOAD_SECONDS, report  # more than it can answer reached it
        assert all(n == 0 for code, n in http_tally.answers.items() if code not in (200, 429, 503)), report
        assert http_tally.answers[429] > http_tally.answers[200], report
        # At most each address's rate, plus its burst of a second's worth (and some slack for the clients'
        # own timing): the rest was refused.
        assert http_tally.answers[200] <= HTTP_SOURCES * rate * (LOAD_SECONDS + 1) * 1.1, report
        assert set(udp_tally.answers) <= {1, 3} and udp_tally.answers[3] > udp_tally.answers[1], report
        assert not http_tally.errors, http_tally.errors[:5]
        # Responsive throughout, and back within a second.
        assert not failures and len(latencies) >= LOAD_SECONDS * 5, (failures, report)
        assert max(latencies) < 1.0, report
        assert recovered < 1.0, report
        assert node.proc.poll() is None and "Traceback" not in node.log.read_text()
    finally:
        node.stop()
