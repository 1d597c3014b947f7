"""TCP resolution load with one connection per request: how CNRI's Handle.Net serves TCP (its
``HdlTcpRequestHandler`` answers one request and closes the socket), so the only TCP shape both servers
take. ``--clients`` workers each connect, send one resolution request, read the whole answer, check its
request id and response code, and close. Prints one line of JSON (``TCPCONNJSON {...}``):

    python -m loadtests.tcpconnload --server 127.0.0.1:PORT [--ids 20000] [--seconds 5] [--clients 32]
        [--server-pid PID]

For pipelined requests on long-lived connections (the node's own TCP shape), ``loadtests.tcpload``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import struct
import sys
import time

from . import data
from .udpload import RC_SUCCESS, _proc_cpu, request_bytes

_U32 = struct.Struct(">I")


async def _load(host: str, port: int, ids: int, seconds: float, clients: int, seed: int) -> dict:
    reqs = [request_bytes(data.handle("SN", i)) for i in range(ids)]
    rng = random.Random(seed)
    answers = errors = 0
    lat: list[float] = []
    samples: list[str] = []
    rid = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal answers, errors, rid
        while time.perf_counter() < stop_at:
            rid += 1
            my = rid
            buf = reqs[rng.randrange(ids)]
            _U32.pack_into(buf, 8, my)
            req = bytes(buf)  # before any await: another worker may patch the same buffer meanwhile
            t0 = time.perf_counter()
            try:
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(req)
                head = await reader.readexactly(20)
                body = await reader.readexactly(_U32.unpack_from(head, 16)[0])
                writer.close()
            except (OSError, asyncio.IncompleteReadError) as e:
                errors += 1
                if len(samples) < 3:
                    samples.append(repr(e))
                continue
            if _U32.unpack_from(head, 8)[0] != my or _U32.unpack_from(body, 4)[0] != RC_SUCCESS:
                errors += 1
                if len(samples) < 3:
                    samples.append(f"request {my}: rc {_U32.unpack_from(body, 4)[0]}")
            else:
                answers += 1
                lat.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    lat.sort()
    return {"answers": answers, "errors": errors, "seconds": time.perf_counter() - t0,
            "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000 if lat else float("nan"),
            "error_samples": samples}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True, help="HOST:PORT of the Handle TCP listener")
    p.add_argument("--ids", type=int, default=20_000)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--server-pid", type=int)
    a = p.parse_args(argv)
    host, _, port = a.server.rpartition(":")
    try:
        import uvloop  # the client's own overhead, not the server's, is what this spares
        uvloop.install()
    except ImportError:
        pass
    c0 = _proc_cpu(a.server_pid)
    res = asyncio.run(_load(host or "127.0.0.1", int(port), a.ids, a.seconds, a.clients, a.seed))
    cpu = _proc_cpu(a.server_pid) - c0
    res.update(rate=res["answers"] / res["seconds"], server_cpu=cpu,
               per_cpu_second=res["answers"] / cpu if cpu > 0 else float("nan"))
    print("TCPCONNJSON " + json.dumps(res), flush=True)
    print(f"{res['answers']:,} answers ({res['errors']} errors) in {res['seconds']:.2f} s = {res['rate']:,.0f}/s; "
          f"server CPU {cpu:.2f} s = {res['per_cpu_second']:,.0f} per CPU-second", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
