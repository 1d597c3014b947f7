"""Side by side with CNRI's Handle.Net 9.3.1: its server and idnode, the same records, the same core, the same
load generators (``loadtests.udpload`` for UDP, wrk for REST GET, an aiohttp client for registration).

    python -m loadtests.handlenet --hdl /path/to/handle-9.3.1 [--ids 20000] [--runs 3] [--seconds 5]

(or ``IDNODE_HANDLENET=/path/to/handle-9.3.1``; without either it says so and stops). The distribution is not
in any package registry and is not ours to ship, so it is never in this repository. To get it: CNRI's
download page (handle.net), or the folder ``handle-9.3.1`` of the public GitHub repository
jameswsullivan/docker-dspace-handle-server (its two ``bcprov`` jars are missing there: take Debian's
``libbcprov-java``, ``apt-get download libbcprov-java && dpkg-deb -x libbcprov-java_*.deb bc``, and copy
``bc/usr/share/java/bcprov.jar`` into ``handle-9.3.1/lib/``); ``chmod +x handle-9.3.1/bin/hdl*``. Java 17.

What it does, in a temporary folder, on 127.0.0.1 only:
- Handle.Net: ``hdl-setup-server`` answered through its standard input (a primary, loopback-bound, access log
  off, keys unencrypted), ``config.dct`` edited so that prefix 88.101.5 is homed there, ``300:88.101.5/ADMIN``
  (an HS_SECKEY) is its server administrator, and nothing is asked of the global Handle System (root info not
  refreshed, ``allow_na_admins`` off: the prefix handle 0.NA/88.101.5 would live at the global root). The
  records are written straight into its BerkeleyDB JE storage by a few lines of Java run against its own
  jars (``HandleStorage.createOrUpdateRecord``, one checkpoint at the end); the server itself keeps its
  default durability (every write synced).
- idnode: ``idnode init --tls`` (a self-signed certificate), ``idnode prefix add 88.101.5``, ``idnode import``
  of the same records; ``idnode serve`` with HTTP, HTTPS and the Handle listener.
- Both servers stay up; the load goes to one at a time, server on core 0, generators on core 1. Handle.Net's
  JIT is warmed first: UDP runs until its rate per CPU-second stops rising (the curve is printed). Then
  ``--runs`` rounds, alternating which server goes first: UDP resolutions per server CPU-second, REST GET
  with wrk (64 connections, plain HTTP), single registrations (``PUT /api/handles/{h}``, 32 concurrent
  clients, HTTPS on both: Handle.Net refuses credentials over plain HTTP). Medians; memory (RSS) at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from . import data
from .batchload import basic_auth
from .procs import Server, can_pin, free_port, run, stop_all, venv_bin
from .report import median
from .udpload import UdpResult, probe
from .udpload import launch as launch_udp
from .wrk import WrkResult, run_wrk, write_script

HDL_ADMIN = f"{data.PREFIX}/ADMIN"
HDL_IDENTITY = f"300:{HDL_ADMIN}"
HDL_SECRET = "bench-handlenet-secret"
REG_CLIENTS = 32

# Three small values per record, the same on both servers.
def record_values(i: int) -> list[dict]:
    def s(index: int, vtype: str, value: str) -> dict:
        return {"index": index, "type": vtype, "data": {"format": "string", "value": value}}

    return [s(1, "URL", f"https://trace.example.com/p/{i:08d}"), s(2, "EMAIL", "qa@trace.example.com"),
            s(3, "DESC", data.PRODUCTS[i % len(data.PRODUCTS)])]


JAVA_LOADER = r"""
import java.io.File;
import net.cnri.util.StreamTable;
import net.handle.hdllib.*;
import net.handle.server.HandleStorageFactory;

public class HdlLoad {
    public static void main(String[] a) throws Exception {
        File dir = new File(a[0]);
        int n = Integer.parseInt(a[1]);
        StreamTable cfg = new StreamTable();
        cfg.readFromFile(new File(dir, "config.dct"));
        StreamTable sc = (StreamTable) cfg.get("server_config");
        sc.put("bdbje_no_sync_on_write", "yes");  // this loader only: the checkpoint at the end makes it durable
        HandleStorage st = HandleStorageFactory.getStorage(dir, sc, true);
        st.setHaveNA(Util.encodeString("0.NA/PREFIX"), true);
        byte[] admin = Util.encodeString("ADMIN");
        AdminRecord rec = new AdminRecord(admin, 300, true, true, true, true, true, true, true, true, true, true,
                                          true, true);
        HandleValue key = new HandleValue(300, "HS_SECKEY", Util.encodeString(a[2]));
        key.setAnyoneCanRead(false);
        st.createOrUpdateRecord(admin, new HandleValue[] {
            new HandleValue(100, "HS_ADMIN", Encoder.encodeAdminRecord(rec)), key});
        String[] products = PRODUCTS;
        for (int i = 0; i < n; i++) {
            st.createOrUpdateRecord(Util.encodeString(String.format("PREFIX/SN-%08d", i)), new HandleValue[] {
                new HandleValue(1, "URL", String.format("https://trace.example.com/p/%08d", i)),
                new HandleValue(2, "EMAIL", "qa@trace.example.com"),
                new HandleValue(3, "DESC", products[i % products.length])});
        }
        st.checkpointDatabase();
        st.shutdown();
        System.out.println("HDLLOAD " + n);
    }
}
"""


def setup_answers(port: int, http_port: int) -> str:
    """``hdl-setup-server``'s questions in order: primary, not dual-stack, a public address (it refuses
    127.0.0.1 there), bind 127.0.0.1, ports, no access log, site version, description, organisation, contact
    name, telephone, e-mail, UDP kept, server and admin keys unencrypted."""
    return "\n".join(["y", "n", "10.1.2.3", "127.0.0.1", str(port), str(http_port), "n", "1", "idnode bench",
                      "idnode bench", "", "", "bench@example.org", "n", "n", "n", "", "", ""]) + "\n"


def loopback_config(text: str) -> str:
    """``config.dct`` as written by the setup, made to home 88.101.5 with ``300:88.101.5/ADMIN`` as its
    server administrator and no prefix-handle lookups at the global root."""
    if "YOUR_PREFIX" not in text or '"server_config" = {' not in text:
        raise ValueError("not a config.dct written by hdl-setup-server 9.3.1")
    text = text.replace('"300:0.NA/YOUR_PREFIX"', f'"{HDL_IDENTITY}"').replace("YOUR_PREFIX", data.PREFIX)
    return text.replace('"server_config" = {', '"server_config" = {\n    "allow_na_admins" = "no"', 1)


def warmed(rates: list[float], tolerance: float = 0.03, least: int = 4) -> bool:
    """True once the last two rates are each no more than ``tolerance`` above the best before them (after
    ``least`` runs): one flat run on a shared machine is not yet a plateau."""
    if len(rates) < max(least, 3):
        return False
    best = max(rates[:-2])
    return all(r <= best * (1 + tolerance) for r in rates[-2:])


@dataclass
class RegResult:
    ok: int
    failed: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu: float = float("nan")
    samples: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    vals = sorted(values)
    return vals[min(len(vals) - 1, int(q * len(vals)))]


async def _register(base: str, tag: str, seconds: float, clients: int) -> RegResult:
    import aiohttp

    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # self-signed on both, loopback only
    lat: list[float] = []
    failed: list[str] = []
    ok = 0
    stop_at = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession, w: int, headers: dict) -> None:
        nonlocal ok
        n = 0
        while time.perf_counter() < stop_at:
            h = f"{data.PREFIX}/{tag}-{w:02d}-{n:07d}"
            body = orjson.dumps({"values": record_values(n)})
            t0 = time.perf_counter()
            async with session.put(f"{base}/api/handles/{h}", data=body, headers=headers) as r:
                await r.read()
                if r.status in (200, 201):
                    ok += 1
                    lat.append(time.perf_counter() - t0)
                else:
                    failed.append(f"{r.status} {h}")
            n += 1

    identity, secret = REG_AUTH[base]
    headers = {"Content-Type": "application/json", "Authorization": basic_auth(identity, secret)}
    conn = aiohttp.TCPConnector(ssl=ctx, limit=clients)
    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=conn) as session:
        await asyncio.gather(*(worker(session, w, headers) for w in range(clients)))
    took = time.perf_counter() - t0
    return RegResult(ok, len(failed), took, percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000,
                     samples=failed[:3])


REG_AUTH: dict[str, tuple[str, str]] = {}  # HTTPS base URL -> (identity, secret)


def register(base: str, tag: str, seconds: float, clients: int = REG_CLIENTS) -> RegResult:
    return asyncio.run(_register(base, tag, seconds, clients))


def log(msg: str) -> None:
    print(f"[handlenet] {msg}", file=sys.stderr, flush=True)


def hdl_classpath(hdl: Path) -> str:
    return ":".join(str(p) for p in sorted((hdl / "lib").glob("*.jar")))


def low_free_port(start: int = 20_000, stop: int = 32_000) -> int:
    """A port free on 127.0.0.1 for both TCP and UDP, below 32001 (``hdl-setup-server`` takes no higher)."""
    for port in random.sample(range(start, stop), 200):
        try:
            with socket.socket() as t, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                t.bind(("127.0.0.1", port))
                u.bind(("127.0.0.1", port))
                return port
        except OSError:
            continue
    raise RuntimeError(f"no free port between {start} and {stop}")


def setup_handlenet(hdl: Path, work: Path, ids: int) -> tuple[Path, int, int]:
    srv = work / "hdl-server"
    srv.mkdir()
    port = low_free_port()
    http_port = low_free_port()
    while http_port == port:
        http_port = low_free_port()
    done = subprocess.run([str(hdl / "bin" / "hdl-setup-server"), str(srv)], input=setup_answers(port, http_port),
                          capture_output=True, text=True, timeout=300)
    if not (srv / "config.dct").exists():
        raise RuntimeError(f"hdl-setup-server failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    cfg = srv / "config.dct"
    cfg.write_text(loopback_config(cfg.read_text()))
    client_cfg = work / "hdl-client-config"  # the server's own resolver: no root-info refresh from the net
    client_cfg.mkdir()
    (client_cfg / "config.dct").write_text('{\n  "auto_update_root_info" = "no"\n}\n')
    os.environ["JAVA_TOOL_OPTIONS"] = f"-Dnet.handle.configDir={client_cfg}"
    src = work / "HdlLoad.java"
    products = "{" + ", ".join(f'"{p}"' for p in data.PRODUCTS) + "}"
    src.write_text(JAVA_LOADER.replace("PRODUCTS", "new String[] " + products)
                   .replace("PREFIX", data.PREFIX).replace('"ADMIN"', f'"{HDL_ADMIN}"'))
    t0 = time.perf_counter()
    out = run(["java", "-cp", hdl_classpath(hdl), str(src), str(srv), str(ids), HDL_SECRET], timeout=900).out
    if f"HDLLOAD {ids}" not in out:
        raise RuntimeError(f"loading Handle.Net's storage failed:\n{out[-2000:]}")
    log(f"Handle.Net storage loaded with {ids:,} records in {time.perf_counter() - t0:.0f} s")
    return srv, port, http_port


def setup_idnode(work: Path, ids: int) -> Path:
    folder = (work / "node").resolve()
    idnode = venv_bin("idnode")
    run([idnode, "init", "--data", str(folder), "--prefix", data.NODE_PREFIX, "--admin-secret", data.NODE_SECRET,
         "--tls"])
    run([idnode, "prefix", "add", data.PREFIX, "--secret", data.ENTERPRISE_SECRET, "--data", str(folder)])
    jsonl = work / "records.jsonl"
    with open(jsonl, "wb") as fh:
        for i in range(ids):
            fh.write(orjson.dumps({"handle": data.handle("SN", i), "values": record_values(i)}) + b"\n")
    out = run([idnode, "import", str(jsonl), "--data", str(folder), "--no-progress"], timeout=900).out
    if f"imported {ids}, unchanged 0, rejected 0" not in out:
        raise RuntimeError(f"idnode import did not take every line:\n{out[-2000:]}")
    return folder


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Side:
    name: str
    srv: Server
    udp_port: int
    http_base: str
    https_base: str
    udp: list[UdpResult] = field(default_factory=list)
    tcp: list[dict] = field(default_factory=list)
    get: list[WrkResult] = field(default_factory=list)
    reg: list[RegResult] = field(default_factory=list)
    rss: float = float("nan")


def udp_run(side: Side, ids: int, seconds: float, seed: int, client_cpu: int | None) -> UdpResult:
    res = launch_udp("127.0.0.1", side.udp_port, "SN", ids, seconds=seconds, window=64, sockets=1, cpu=client_cpu,
                     seed=seed, server_pid=side.srv.pid)
    if res.errors or res.answers == 0:
        raise RuntimeError(f"{side.name}: UDP answers failed their checks: {res.error_samples}")
    return res


def tcp_run(side: Side, ids: int, seconds: float, seed: int, client_cpu: int | None) -> dict:
    """One TCP connection per request (``loadtests.tcpconnload``): Handle.Net closes after each answer."""
    out = run([sys.executable, "-m", "loadtests.tcpconnload", "--server", f"127.0.0.1:{side.udp_port}", "--ids",
               str(ids), "--seconds", str(seconds), "--seed", str(seed), "--server-pid", str(side.srv.pid)],
              cpu=client_cpu, timeout=seconds + 120).out
    line = next((x for x in out.splitlines() if x.startswith("TCPCONNJSON ")), None)
    if line is None:
        raise RuntimeError(f"{side.name}: the TCP load generator printed no result:\n{out[-2000:]}")
    res = orjson.loads(line[len("TCPCONNJSON "):])
    if res["errors"] or not res["answers"]:
        raise RuntimeError(f"{side.name}: TCP answers failed their checks: {res['error_samples']}")
    return res


def one_round(side: Side, r: int, ids: int, seconds: float, script: Path, paths: Path, cpu: int | None) -> None:
    u = udp_run(side, ids, seconds, r + 1, cpu)
    side.udp.append(u)
    t = tcp_run(side, ids, seconds, r + 1, cpu)
    side.tcp.append(t)
    c0 = side.srv.cpu()
    w = run_wrk(side.http_base, script, paths, seconds=seconds, connections=64, cpu=cpu, seed=r + 1)
    w.server_cpu = side.srv.cpu() - c0
    if w.non_2xx or w.socket_errors:
        raise RuntimeError(f"{side.name} GET: {w.non_2xx} bad statuses, {w.socket_errors} socket errors")
    side.get.append(w)
    c0 = side.srv.cpu()
    g = register(side.https_base, f"RG{r}", seconds)
    g.server_cpu = side.srv.cpu() - c0
    if g.failed or not g.ok:
        raise RuntimeError(f"{side.name} registration: {g.failed} failed, e.g. {g.samples}")
    side.reg.append(g)
    log(f"round {r + 1} {side.name}: UDP {u.per_cpu_second:,.0f}/CPU-s ({u.rate:,.0f}/s, loss {u.lost}), "
        f"TCP {t['per_cpu_second']:,.0f}/CPU-s ({t['rate']:,.0f}/s), GET {w.rps:,.0f}/s p99 {w.p99_ms:.1f} ms, "
        f"registration {g.rps:,.0f}/s p99 {g.p99_ms:.0f} ms")


def fmt(v: float) -> str:
    return "—" if v != v else f"{v:,.0f}"


def table(rows: list[tuple[str, float, float, str, str]]) -> str:
    """Markdown: (what, idnode, Handle.Net, idnode note, Handle.Net note) -> | what | idnode | Handle.Net | ratio |."""
    out = ["| | idnode | Handle.Net 9.3.1 | ratio idnode / Handle.Net |", "|---|---|---|---|"]
    for what, a, b, na, nb in rows:
        ratio = "—" if not (a == a and b == b and b) else f"{a / b:.2f}"
        out.append(f"| {what} | {fmt(a)}{na} | {fmt(b)}{nb} | {ratio} |")
    return "\n".join(out)


def warm_until_flat(measure: Callable[[], float], what: str, most: int) -> list[float]:
    """Run ``measure`` until its figure stops rising (``warmed``), ``most`` times at most: the curve."""
    curve: list[float] = []
    while len(curve) < most:
        curve.append(measure())
        log(f"Handle.Net {what} warm-up run {len(curve)}: {curve[-1]:,.0f}")
        if warmed(curve):
            break
    return curve


def summary(node: Side, hdl: Side, curves: dict[str, list[float]]) -> str:
    rows = [
        ("UDP resolutions per server CPU-second", median([u.per_cpu_second for u in node.udp]),
         median([u.per_cpu_second for u in hdl.udp]), "", ""),
        ("UDP resolutions per second (window 64)", median([u.rate for u in node.udp]),
         median([u.rate for u in hdl.udp]), f" (p99 {median([u.p99_ms for u in node.udp]):.1f} ms)",
         f" (p99 {median([u.p99_ms for u in hdl.udp]):.1f} ms)"),
        ("TCP resolutions per server CPU-second (a connection per request)",
         median([t["per_cpu_second"] for t in node.tcp]), median([t["per_cpu_second"] for t in hdl.tcp]), "", ""),
        ("TCP resolutions per second, 32 clients", median([t["rate"] for t in node.tcp]),
         median([t["rate"] for t in hdl.tcp]), f" (p99 {median([t['p99_ms'] for t in node.tcp]):.1f} ms)",
         f" (p99 {median([t['p99_ms'] for t in hdl.tcp]):.1f} ms)"),
        ("REST GET `/api/handles/{h}`, wrk 64 connections, /s", median([w.rps for w in node.get]),
         median([w.rps for w in hdl.get]), f" (p99 {median([w.p99_ms for w in node.get]):.1f} ms)",
         f" (p99 {median([w.p99_ms for w in hdl.get]):.1f} ms)"),
        ("REST GET per server CPU-second", median([w.per_cpu_second for w in node.get]),
         median([w.per_cpu_second for w in hdl.get]), "", ""),
        (f"single registration `PUT`, HTTPS, {REG_CLIENTS} clients, /s", median([g.rps for g in node.reg]),
         median([g.rps for g in hdl.reg]), f" (p99 {median([g.p99_ms for g in node.reg]):.0f} ms)",
         f" (p99 {median([g.p99_ms for g in hdl.reg]):.0f} ms)"),
        ("memory after the runs (RSS, MiB)", node.rss, hdl.rss, "", ""),
    ]
    lines = [table(rows), "",
             "Handle.Net's warm-up (until the figure stopped rising), run by run: "
             + "; ".join(f"{k} " + ", ".join(fmt(c) for c in v) for k, v in curves.items()) + ".",
             f"Runs: UDP per CPU-s idnode {', '.join(fmt(u.per_cpu_second) for u in node.udp)}; Handle.Net "
             f"{', '.join(fmt(u.per_cpu_second) for u in hdl.udp)}. Registration idnode "
             f"{', '.join(fmt(g.rps) for g in node.reg)}; Handle.Net {', '.join(fmt(g.rps) for g in hdl.reg)}.",
             "TCP: one connection per request (`loadtests.tcpconnload`), the only shape Handle.Net's server takes "
             "(it closes the socket after each answer); the node's pipelined TCP is `loadtests.tcpload`'s."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hdl", default=os.environ.get("IDNODE_HANDLENET"), help="the handle-9.3.1 folder")
    p.add_argument("--ids", type=int, default=20_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5.0, help="each timed run")
    p.add_argument("--max-warm", type=int, default=12, help="UDP warm-up runs of Handle.Net at most")
    p.add_argument("--work", help="keep the servers' folders here (default: a temporary folder)")
    a = p.parse_args(argv)
    if not a.hdl or not (Path(a.hdl) / "bin" / "hdl-server").exists():
        print("Handle.Net 9.3.1 not found: pass --hdl /path/to/handle-9.3.1 or set IDNODE_HANDLENET "
              "(how to get it: python -m loadtests.handlenet's docstring). Skipped.")
        return
    hdl = Path(a.hdl).resolve()
    server_cpu, client_cpu = (0, 1) if can_pin(0, 1) else (None, None)
    with tempfile.TemporaryDirectory(prefix="handlenet-", dir=a.work) as tmp:
        work = Path(tmp)
        try:
            srv_dir, hport, hhttp = setup_handlenet(hdl, work, a.ids)
            folder = setup_idnode(work, a.ids)
            log(f"idnode loaded with the same {a.ids:,} records")
            script, paths = write_script(work), work / "paths.txt"
            data.write_paths(paths, "SN", a.ids)
            nport, nhttp, nhttps = free_port(), free_port(), free_port()
            node_cmd = [venv_bin("idnode"), "serve", "--data", str(folder), "--http", f"127.0.0.1:{nhttp}",
                        "--https", f"127.0.0.1:{nhttps}", "--tls-cert", str(folder / "tls" / "cert.pem"),
                        "--tls-key", str(folder / "tls" / "key.pem"), "--handle", f"127.0.0.1:{nport}"]
            known = data.handle("SN", 0)
            hsrv = Server([str(hdl / "bin" / "hdl-server"), str(srv_dir)], None, work / "handlenet.log",
                          cpu=server_cpu, ready_timeout=180, ready=lambda: probe("127.0.0.1", hport, known))
            nsrv = Server(node_cmd, nhttp, work / "idnode.log", cpu=server_cpu, ready_timeout=60,
                          ready=lambda: probe("127.0.0.1", nport, known))
            with hsrv, nsrv:
                hb, nb = f"https://127.0.0.1:{hhttp}", f"https://127.0.0.1:{nhttps}"
                REG_AUTH[hb] = (HDL_IDENTITY, HDL_SECRET)
                REG_AUTH[nb] = (data.ADMIN_IDENTITY, data.ENTERPRISE_SECRET)
                h = Side("Handle.Net", hsrv, hport, f"http://127.0.0.1:{hhttp}", hb)
                n = Side("idnode", nsrv, nport, nsrv.base, nb)
                for side in (h, n):  # first authentication (a slow hash on idnode), TLS, code paths: untimed
                    g = register(side.https_base, "WARM", 1.0, clients=4)
                    if g.failed or not g.ok:
                        raise RuntimeError(f"{side.name}: warm-up registration failed: {g.samples}")
                    run_wrk(side.http_base, script, paths, seconds=2, connections=64, cpu=client_cpu)
                    tcp_run(side, a.ids, 2.0, 98, client_cpu)
                curve: list[float] = []
                while len(curve) < a.max_warm:
                    curve.append(udp_run(h, a.ids, a.seconds, 100 + len(curve), client_cpu).per_cpu_second)
                    log(f"Handle.Net warm-up run {len(curve)}: {curve[-1]:,.0f} UDP resolutions per CPU-s")
                    if warmed(curve):
                        break
                udp_run(n, a.ids, a.seconds, 99, client_cpu)  # idnode gets one warm-up run too
                get_curve = warm_until_flat(lambda: run_wrk(h.http_base, script, paths, seconds=a.seconds,
                                                            connections=64, cpu=client_cpu).rps, "GET", 8)
                reg_curve = warm_until_flat(lambda: register(h.https_base, f"W{time.monotonic_ns()}",
                                                             a.seconds).rps, "registration", 6)
                curves = {"UDP per CPU-s": curve, "GET /s": get_curve, "registration /s": reg_curve}
                for r in range(a.runs):
                    for side in (n, h) if r % 2 == 0 else (h, n):
                        one_round(side, r, a.ids, a.seconds, script, paths, client_cpu)
                h.rss, n.rss = rss_mib(hsrv.pid), rss_mib(nsrv.pid)
            print(summary(n, h, curves))
        finally:
            stop_all()


if __name__ == "__main__":
    main()
