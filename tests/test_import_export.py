"""`idnode import` / `idnode export`: files into a data folder and back, resumable, with reasons for rejects."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import orjson
import requests

from storage import Store
from tests.nodes import REPO, Node, idnode

ENT = "88.101.5"


def jsonl(path, records) -> None:
    with open(path, "wb") as fh:
        for rec in records:
            fh.write(rec if isinstance(rec, bytes) else orjson.dumps(rec))
            fh.write(b"\n")


def rec(handle: str, url: str, **extra) -> dict:
    values = [{"index": 1, "type": "URL", "data": url}]
    values += [{"index": 2000 + n, "type": k, "data": v} for n, (k, v) in enumerate(extra.items(), start=1)]
    return {"handle": handle, "values": values}


def summary(stdout: str) -> tuple[int, int, int]:
    m = re.search(r"imported (\d+), unchanged (\d+), rejected (\d+)", stdout)
    assert m, stdout
    return int(m[1]), int(m[2]), int(m[3])


def total(node, auth, prefix: str = ENT) -> int:
    r = requests.get(node.url + "/api/handles", params={"prefix": prefix, "pageSize": 1}, headers=auth["admin"])
    assert r.status_code == 200, r.text
    return int(r.json()["totalCount"])


def all_handles(node, auth, prefix: str = ENT) -> list[str]:
    out, page = [], 0
    while True:
        r = requests.get(node.url + "/api/handles", params={"prefix": prefix, "page": page, "pageSize": 10000},
                         headers=auth["owner"])
        assert r.status_code == 200, r.text
        handles = r.json()["handles"]
        if not handles:
            return out
        out += handles
        page += 1


def values_of(node, handle: str) -> dict:
    r = requests.get(node.api(handle))
    assert r.status_code == 200, (handle, r.text)
    return {v["type"]: v["data"]["value"] for v in r.json()["values"]}


def test_import_jsonl_then_serve(fresh_data, tmp_path, auth):
    src = tmp_path / "products.jsonl"
    jsonl(src, [rec(f"{ENT}/JL-{n}", f"https://example.com/p/{n}", productName=f"Motor {n}") for n in range(300)]
          + [{"handle": f"{ENT}/JL-STAMPED", "values": [
              {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://example.com/s"},
               "timestamp": "2020-01-02T03:04:05Z", "ttl": 3600}]}])
    p = idnode("import", str(src), "--data", str(fresh_data), "--no-progress")
    assert summary(p.stdout) == (301, 0, 0)
    assert "resumed" not in p.stdout
    assert not (tmp_path / "products.jsonl.rejects.jsonl").exists()

    node = Node(fresh_data).start()
    try:
        assert values_of(node, f"{ENT}/JL-299") == {
            "URL": "https://example.com/p/299", "productName": "Motor 299",
            "HS_ADMIN": {"handle": f"0.NA/{ENT}", "index": 300, "permissions": "011111110011"}}
        r = requests.get(node.api(f"{ENT}/JL-STAMPED")).json()
        (url,) = [v for v in r["values"] if v["type"] == "URL"]
        assert url["timestamp"] == "2020-01-02T03:04:05Z" and url["ttl"] == 3600
        assert total(node, auth) == 301
        # The owner administers what was imported for it.
        r = requests.delete(node.api(f"{ENT}/JL-0"), headers=auth["owner"])
        assert r.status_code == 200
    finally:
        node.stop()


def test_import_csv_with_index_columns(fresh_data, tmp_path, auth):
    src = tmp_path / "products.csv"
    src.write_text("handle,URL,2001:productName\n"
                   f"{ENT}/CSV-1,https://example.com/1,Pump\n"
                   f'{ENT}/CSV-2,https://example.com/2,"Valve, brass"\n'
                   f"{ENT}/CSV-3,,电机\n", encoding="utf-8")
    p = idnode("import", str(src), "--data", str(fresh_data), "--no-progress")
    assert summary(p.stdout) == (3, 0, 0)
    node = Node(fresh_data).start()
    try:
        v1 = requests.get(node.api(f"{ENT}/CSV-1")).json()["values"]
        assert {(v["index"], v["type"], v["data"]["value"]) for v in v1 if v["type"] != "HS_ADMIN"} == {
            (1, "URL", "https://example.com/1"), (2001, "productName", "Pump")}
        assert values_of(node, f"{ENT}/CSV-2")["productName"] == "Valve, brass"
        v3 = values_of(node, f"{ENT}/CSV-3")
        assert v3["productName"] == "电机" and "URL" not in v3  # an empty cell is no value
        assert total(node, auth) == 3
    finally:
        node.stop()


def test_bad_lines_are_rejected_with_line_numbers_and_reasons(fresh_data, tmp_path, auth):
    src = tmp_path / "mixed.jsonl"
    jsonl(src, [
        rec(f"{ENT}/GOOD-1", "https://example.com/1"),                              # line 1
        b'{"handle": "88.101.5/BROKEN", "values": [',                               # line 2: bad JSON
        rec("88.101.5-NO-SLASH", "https://example.com/x"),                          # line 3: invalid handle
        rec("88.101.9/UNALLOCATED", "https://example.com/x"),                       # line 4: prefix not here
        rec(f"{ENT}/HUGE", "https://example.com/x", blob="x" * (64 * 1024 + 1)),    # line 5: value too large
        rec(f"{ENT}/GOOD-2", "https://example.com/2"),                              # line 6
        b"",                                                                        # line 7: blank, skipped
        {"handle": f"{ENT}/BADINDEX", "values": [{"index": "abc", "type": "URL", "data": "x"}]},  # line 8
        rec("99.1/ELSEWHERE", "https://example.com/x"),                             # line 9: not served
    ])
    p = idnode("import", str(src), "--data", str(fresh_data), "--no-progress", check=False)
    assert p.returncode == 3, p.stdout + p.stderr
    assert summary(p.stdout) == (2, 0, 6)
    rejects_file = tmp_path / "mixed.jsonl.rejects.jsonl"
    assert str(rejects_file) in p.stdout
    rejects = {r["line"]: r for r in map(json.loads, rejects_file.read_text().splitlines())}
    assert sorted(rejects) == [2, 3, 4, 5, 8, 9]
    assert "not valid jsonl" in rejects[2]["error"]
    assert "88.101.5-NO-SLASH" in rejects[3]["error"] and "'/'" in rejects[3]["error"]
    assert "88.101.9" in rejects[4]["error"] and "not allocated" in rejects[4]["error"]
    assert "65537 bytes" in rejects[5]["error"] and "65536" in rejects[5]["error"]
    assert "abc" in rejects[8]["error"]
    assert "99.1" in rejects[9]["error"] and "not served" in rejects[9]["error"]
    assert rejects[4]["text"].startswith('{"handle":"88.101.9/UNALLOCATED"')
    # The summary counts the reasons.
    assert "not allocated on this node" in p.stdout

    node = Node(fresh_data).start()
    try:
        assert total(node, auth) == 2
        assert requests.get(node.api(f"{ENT}/GOOD-2")).status_code == 200
        for h in (f"{ENT}/BROKEN", f"{ENT}/HUGE", f"{ENT}/BADINDEX", "88.101.9/UNALLOCATED"):
            assert requests.get(node.api(h)).status_code in (400, 404), h
        assert requests.get(node.api(f"{ENT}/HUGE")).status_code == 404
    finally:
        node.stop()


def test_template_named_on_import_is_checked(node, tmp_path, auth):
    r = requests.post(node.url + "/api/templates", headers=auth["owner"], json={
        "prefix": ENT, "version": "1.0", "fields": [{"name": "productName", "index": 2001, "required": True}]})
    assert r.status_code == 201
    src = tmp_path / "templated.jsonl"
    jsonl(src, [{**rec(f"{ENT}/T-OK", "https://x/1", productName="Pump"), "template": "1.0"},
                {**rec(f"{ENT}/T-BAD", "https://x/2"), "template": "1.0"}])
    p = idnode("import", str(src), "--data", str(node.data), "--no-progress", check=False)
    assert p.returncode == 3 and summary(p.stdout) == (1, 0, 1)
    (bad,) = map(json.loads, (tmp_path / "templated.jsonl.rejects.jsonl").read_text().splitlines())
    assert bad["line"] == 2 and "productName" in bad["error"] and "required" in bad["error"]
    assert requests.get(node.api(f"{ENT}/T-OK")).status_code == 200
    assert requests.get(node.api(f"{ENT}/T-BAD")).status_code == 404


def test_interrupted_import_resumes_and_loads_every_line_once(fresh_data, tmp_path, auth):
    lines = 200_000  # ten chunks of 20,000: time to interrupt it between commits
    src = tmp_path / "big.jsonl"
    with open(src, "wb") as fh:
        for n in range(lines):
            fh.write(b'{"handle":"88.101.5/BIG-%07d","values":[{"index":1,"type":"URL","data":"https://e.x/%d"}]}\n'
                     % (n, n))
    proc = subprocess.Popen([sys.executable, "-m", "resolver.cli", "import", str(src), "--data", str(fresh_data),
                             "--no-progress"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    store = Store(fresh_data, readonly=True)  # watch its commits from here, as another process
    try:
        loaded = 0
        while proc.poll() is None and loaded == 0:
            with store.read() as tx:
                loaded = tx.count_handles(ENT)
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with store.read() as tx:
            at_kill = tx.count_handles(ENT)
    finally:
        store.close()
    assert proc.returncode == -signal.SIGKILL, "the import finished before it could be interrupted"
    assert 0 < at_kill < lines and at_kill % 20_000 == 0  # whole chunks only: each is one transaction

    p = idnode("import", str(src), "--data", str(fresh_data), "--no-progress")
    assert f"resumed after line {at_kill}" in p.stdout
    assert summary(p.stdout) == (lines - at_kill, 0, 0)

    node = Node(fresh_data).start()
    try:
        assert total(node, auth) == lines
        handles = all_handles(node, auth)
        assert len(handles) == lines
        assert handles == [f"{ENT}/BIG-{n:07d}" for n in range(lines)]
        assert values_of(node, f"{ENT}/BIG-0199999")["URL"] == "https://e.x/199999"
    finally:
        node.stop()


def test_finished_import_run_again_says_so_and_restart_starts_over(fresh_data, tmp_path):
    src = tmp_path / "small.jsonl"
    jsonl(src, [rec(f"{ENT}/R-{n}", f"https://x/{n}") for n in range(10)])
    assert summary(idnode("import", str(src), "--data", str(fresh_data), "--no-progress").stdout) == (10, 0, 0)

    again = idnode("import", str(src), "--data", str(fresh_data), "--no-progress").stdout
    assert "imported completely already (10 lines)" in again and "--restart" in again

    restarted = idnode("import", str(src), "--data", str(fresh_data), "--no-progress", "--restart").stdout
    assert summary(restarted) == (0, 10, 0) and "resumed" not in restarted  # same records: nothing rewritten

    jsonl(src, [rec(f"{ENT}/R-{n}", f"https://x/changed/{n}") for n in range(12)])  # an edited file
    changed = idnode("import", str(src), "--data", str(fresh_data), "--no-progress").stdout
    assert summary(changed) == (12, 0, 0) and "resumed" not in changed
    with_store = Store(fresh_data, readonly=True)
    try:
        with with_store.read() as tx:
            assert tx.count_handles(ENT) == 12
            assert tx.get_handle(f"{ENT}/R-3").values[0].data == b"https://x/changed/3"
    finally:
        with_store.close()


def test_export_then_import_into_a_new_folder_is_the_same(node, tmp_path, auth, seeded):
    h = auth["owner"]
    records = {
        f"{ENT}/EX-PLAIN": [{"index": 1, "type": "URL", "data": "https://example.com/plain"}],
        f"{ENT}/EX-RICH": [
            {"index": 1, "type": "URL", "data": "https://example.com/rich", "ttl": 60},
            {"index": 2, "type": "EMAIL", "data": "ops@example.com", "permissions": "1100"},
            {"index": 3, "type": "BLOB", "data": {"format": "hex", "value": "00ff10"}},
            {"index": 4, "type": "B64", "data": {"format": "base64", "value": "AAEC"}},
            {"index": 2001, "type": "productName", "data": "电机 <x>"},
            {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
                "handle": f"0.NA/{ENT}", "index": 300, "permissions": "011111111111"}}}],
        f"{ENT}/EX-TTL-ABS": [{"index": 1, "type": "URL", "data": "https://example.com/a", "ttlType": 1,
                                "ttl": 1893456000}],
    }
    for handle, values in records.items():
        assert requests.put(node.api(handle), json={"values": values}, headers=h).status_code == 201

    out = tmp_path / "export.jsonl"
    p = idnode("export", "--data", str(node.data), "--out", str(out), "--no-progress")  # while it runs
    assert "exported" in p.stderr
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["handle"] for r in exported} >= set(records) | {f"0.NA/{ENT}", "0.NA/88.101"}

    import shutil
    dst = tmp_path / "copy"
    shutil.copytree(seeded, dst)  # a folder with the same prefixes, none of these records
    assert summary(idnode("import", str(out), "--data", str(dst), "--no-progress").stdout)[2] == 0
    out2 = tmp_path / "export2.jsonl"
    idnode("export", "--data", str(dst), "--out", str(out2), "--no-progress")
    assert out2.read_bytes() == out.read_bytes()  # every record, every value, every timestamp

    n2 = Node(dst).start()
    try:
        for handle in records:
            assert requests.get(n2.api(handle), headers=h).json() == requests.get(node.api(handle), headers=h).json()
        # The prefix secrets came along (as verifiers): the enterprise still logs in.
        assert requests.put(n2.api(f"{ENT}/EX-NEW"), json=[{"index": 1, "type": "URL", "data": "https://x"}],
                            headers=h).status_code == 201
    finally:
        n2.stop()

    only = idnode("export", "--data", str(node.data), "--prefix", ENT).stdout
    assert sorted(json.loads(x)["handle"] for x in only.splitlines()) == sorted(records)


def test_import_into_the_folder_of_a_running_node(node, tmp_path, auth):
    r = requests.put(node.api(f"{ENT}/LIVE-BEFORE"), json=[{"index": 1, "type": "URL", "data": "https://x/0"}],
                     headers=auth["owner"])
    assert r.status_code == 201
    assert requests.get(node.api(f"{ENT}/LIVE-1")).status_code == 404  # the node looked before the import
    src = tmp_path / "live.jsonl"
    jsonl(src, [rec(f"{ENT}/LIVE-{n}", f"https://x/{n}", lot=f"L{n}") for n in range(1, 501)])
    p = idnode("import", str(src), "--data", str(node.data), "--no-progress")
    assert summary(p.stdout) == (500, 0, 0)
    assert values_of(node, f"{ENT}/LIVE-1") == {
        "URL": "https://x/1", "lot": "L1",
        "HS_ADMIN": {"handle": f"0.NA/{ENT}", "index": 300, "permissions": "011111110011"}}
    assert values_of(node, f"{ENT}/LIVE-500")["lot"] == "L500"
    assert total(node, auth) == 501
    # And the node keeps writing to the same environment afterwards.
    r = requests.put(node.api(f"{ENT}/LIVE-AFTER"), json=[{"index": 1, "type": "URL", "data": "https://x/a"}],
                     headers=auth["owner"])
    assert r.status_code == 201
    assert total(node, auth) == 502
