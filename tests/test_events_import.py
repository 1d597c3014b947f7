"""``idnode events import``: EPCIS documents and JSON Lines into a data folder, validated as capture
validates them, bad events rejected alone with their reasons, idempotent, resumable after a kill."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import requests

from resolver.events_import import state_key
from storage import Store
from tests.nodes import ENTERPRISES, REPO, Node, basic, idnode
from tests.test_epcis import doc


def event(n: int, **extra) -> dict:
    return {"type": "ObjectEvent", "eventTime": f"2026-05-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
            "eventTimeZoneOffset": "+00:00", "epcList": [f"88.101.5/IMPORTED-{n}"], "action": "OBSERVE",
            "bizStep": "shipping", "eventID": f"urn:uuid:00000000-0000-4000-8000-{n:012d}", **extra}


def write_lines(path, rows) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def test_json_lines_with_bad_events_then_again(fresh_data, tmp_path):
    src = tmp_path / "events.jsonl"
    inner = doc(event(900), event(901))  # a whole document on one line
    write_lines(src, [event(1), event(2), "{not json", {**event(3), "action": "MAYBE"},
                      {k: v for k, v in event(4).items() if k != "eventTimeZoneOffset"},
                      {**event(5), "type": "CheeseEvent"}, inner, event(1), ""])
    p = idnode("events", "import", str(src), "--data", str(fresh_data), "--no-progress", check=False)
    assert p.returncode == 3, p.stdout + p.stderr
    assert "read 8 events: stored 4, duplicate 1, error declarations attached 0, rejected 4" in p.stdout, p.stdout
    rejects = [json.loads(x) for x in (tmp_path / "events.jsonl.rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [3, 4, 5, 6]
    assert rejects[0]["reason"].startswith("not JSON")
    assert rejects[2]["reason"] == "schema: 'eventTimeZoneOffset' is a required property"
    assert "CheeseEvent" in rejects[3]["reason"] and "IMPORTED-5" in rejects[3]["text"]
    # The events are there as capture would have stored them: a trace and a query find them.
    node = Node(fresh_data).start()
    try:
        t = requests.get(f"{node.url}/api/trace/88.101.5/IMPORTED-900").json()
        assert [e["eventID"] for e in t["timeline"]] == [event(900)["eventID"]]
        r = requests.get(f"{node.url}/events", params={"MATCH_anyEPC": "88.101.5/IMPORTED-1"},
                         headers={"Authorization": basic("300:0.NA/88.101.5", ENTERPRISES["88.101.5"])})
        [stored] = r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert stored["recordTime"] and stored["bizStep"] == "shipping"
        # The same file again, while the node serves: done already; with --restart, all duplicates.
        p = idnode("events", "import", str(src), "--data", str(fresh_data), "--no-progress")
        assert "imported completely already" in p.stdout
        p = idnode("events", "import", str(src), "--data", str(fresh_data), "--no-progress", "--restart", check=False)
        assert "stored 0, duplicate 5" in p.stdout and "rejected 4" in p.stdout, p.stdout
        assert int(float(next(line.split()[-1] for line in requests.get(f"{node.url}/metrics").text.splitlines()
                                if line.startswith("idnode_events_stored")))) == 4
    finally:
        node.stop()


def test_an_epcis_document_and_its_error_declarations(fresh_data, tmp_path):
    src = tmp_path / "doc.jsonld"
    wrong = event(10, disposition="damaged")
    fixed = {**wrong, "errorDeclaration": {"declarationTime": "2026-05-02T00:00:00Z", "reason": "incorrect_data"}}
    src.write_text(json.dumps(doc(event(11), wrong, {**event(12), "eventTime": "yesterday"}, fixed)))
    p = idnode("events", "import", str(src), "--data", str(fresh_data), "--no-progress", check=False)
    assert p.returncode == 3
    assert "stored 2, duplicate 0, error declarations attached 1, rejected 1" in p.stdout, p.stdout
    [bad] = [json.loads(x) for x in (tmp_path / "doc.jsonld.rejects.jsonl").read_text().splitlines()]
    assert bad["position"] == 2 and "eventTime" in bad["reason"]
    missing = idnode("events", "import", str(tmp_path / "nothing.json"), "--data", str(fresh_data), check=False)
    assert missing.returncode != 0 and "nothing.json" in missing.stderr


def position(data, src) -> tuple[dict | None, int]:
    """The position an import of ``src`` recorded, and the events stored, read as another process would."""
    store = Store(data, readonly=True)
    try:
        with store.read() as tx:
            return tx.get_meta(state_key(src)), tx.count_events()
    finally:
        store.close()


def test_an_interrupted_import_resumes_after_its_last_commit(fresh_data, tmp_path):
    src = tmp_path / "many.jsonl"
    write_lines(src, [event(n) for n in range(3000)])
    proc = subprocess.Popen([sys.executable, "-m", "resolver.cli", "events", "import", str(src), "--data",
                             str(fresh_data), "--chunk", "25", "--no-progress"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        state, _ = position(fresh_data, src)
        if state and state["line"] >= 100:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, "the import finished before it could be interrupted"
    state, stored = position(fresh_data, src)
    reached = state["line"]
    assert stored == reached and 0 < reached < 3000  # what was committed, and the position with it
    p = idnode("events", "import", str(src), "--data", str(fresh_data), "--no-progress", "--chunk", "500")
    assert f"resumed after {reached})" in p.stdout and f"stored {3000 - reached}, duplicate 0" in p.stdout, p.stdout
    assert position(fresh_data, src)[1] == 3000


def test_a_document_context_declares_its_events_extensions(fresh_data, tmp_path):
    """An extension whose prefix the document's @context declares is taken, and an event without an
    eventID gets the ID capture gives it (the hash reads the extension's namespace from the context)."""
    from protocol.epcis import facts
    from protocol.epcis_hash import context_namespaces

    ctx = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld", {"ex": "https://ns.example.com/epcis/"}]
    plain = {k: v for k, v in event(20, **{"ex:batch": "B7"}).items() if k != "eventID"}
    body = {**doc(plain), "@context": ctx}
    src = tmp_path / "ext.jsonld"
    src.write_text(json.dumps(body))
    p = idnode("events", "import", str(src), "--data", str(fresh_data), "--no-progress", check=False)
    assert p.returncode == 0 and "stored 1" in p.stdout, p.stdout + p.stderr
    eid = facts(plain, None, context_namespaces(ctx)).event_id
    store = Store(fresh_data, readonly=True)
    try:
        with store.read() as tx:
            assert tx.count_events() == 1
    finally:
        store.close()
    node = Node(fresh_data).start()
    try:
        from urllib.parse import quote
        got = requests.get(f"{node.url}/events/{quote(eid, safe='')}",
                           headers={"Authorization": basic("300:0.NA/88.101.5", ENTERPRISES["88.101.5"])})
        assert got.status_code == 200 and "@context" not in json.dumps(got.json()["epcisBody"]["queryResults"]
                                                                         ["resultsBody"]["eventList"][0])
    finally:
        node.stop()
    # Undeclared, the same prefix is refused.
    src2 = tmp_path / "undeclared.jsonld"
    src2.write_text(json.dumps(doc({**plain, "eventTime": "2026-05-03T00:00:00Z"})))
    p = idnode("events", "import", str(src2), "--data", str(fresh_data), "--no-progress", check=False)
    assert p.returncode == 3 and "rejected 1" in p.stdout, p.stdout
