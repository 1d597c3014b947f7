"""Batch registration from an Excel workbook (validated against the template as the CSV path is, a zip
bomb refused unopened) and the export of a prefix's identifiers as CSV (streamed, one slice a request,
for the prefix's own administrators only)."""

from __future__ import annotations

import base64
import csv
import html
import io
import re
import zipfile

import requests
from openpyxl import Workbook

from resolver.http.console.exportpage import EXPORT_PART
from tests.test_console import csrf_of, ent, sign_in  # noqa: F401 (ent is the module's enterprise fixture)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(rows: list[list[object]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(s: requests.Session, node, prefix: str, name: str, raw: bytes) -> requests.Response:
    page = s.get(f"{node.url}/console/p/{prefix}/batch")
    return s.post(f"{node.url}/console/p/{prefix}/batch", data={"csrf": csrf_of(page.text), "template": "v1"},
                  files={"file": (name, raw, XLSX)})


def test_an_excel_workbook_is_validated_against_the_template(ent):  # noqa: F811
    node, prefix = ent["node"], ent["prefix"]
    s = sign_in(node, ent["id"], ent["secret"])
    # numbers as a spreadsheet stores them (100.0), an empty required cell, a word where a number goes
    raw = workbook([["suffix", "产品名称", "功率", "URL"], ["X-1", "电机一", 100.0, "https://example.com/x1"],
                    ["X-2", None, 200], ["X-3", "电机三", "abc"], ["X-4", "电机四", 400]])
    r = upload(s, node, prefix, "rows.xlsx", raw)
    text = html.unescape(r.text)
    assert r.status_code == 200 and "完成：共 4 行，成功 2，拒绝 2。" in text, text[-2000:]
    report = re.search(r'href="data:text/csv;charset=utf-8;base64,([^"]+)"', r.text)[1]
    rows = base64.b64decode(report).decode("utf-8-sig").splitlines()
    assert [x.split(",")[0] for x in rows[1:]] == ["3", "4"]
    got = requests.get(node.api(f"{prefix}/X-1")).json()["values"]
    by_type = {v["type"]: v["data"]["value"] for v in got}
    assert str(by_type["power"]) == "100" and by_type["URL"] == "https://example.com/x1", by_type
    assert requests.get(node.api(f"{prefix}/X-2")).status_code == 404
    # a column the template does not have refuses the whole file, as for CSV
    r = upload(s, node, prefix, "bad.xlsx", workbook([["suffix", "颜色"], ["X-9", "红"]]))
    assert r.status_code == 400 and "unknown: 颜色" in html.unescape(r.text)
    assert requests.get(node.api(f"{prefix}/X-9")).status_code == 404


def test_a_zip_bomb_or_a_damaged_workbook_is_refused_unopened(ent):  # noqa: F811
    """An attacker's .xlsx: small as sent, huge unpacked; or a zip that is no workbook."""
    node, prefix = ent["node"], ent["prefix"]
    s = sign_in(node, ent["id"], ent["secret"])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (40 * 1024 * 1024))
    assert len(out.getvalue()) < 200_000
    r = upload(s, node, prefix, "bomb.xlsx", out.getvalue())
    assert r.status_code == 413 and "unpacks to more than" in r.text
    # a sheet that claims (or has) a cell far to the right: refused at that row, not padded out
    wide = Workbook()
    wide.active.append(["suffix", "产品名称"])
    wide.active.cell(row=2, column=5000, value="x")
    out = io.BytesIO()
    wide.save(out)
    r = upload(s, node, prefix, "wide.xlsx", out.getvalue())
    assert r.status_code == 413 and "256 columns" in r.text
    r = upload(s, node, prefix, "broken.xlsx", b"PK\x03\x04" + b"\x00" * 100)
    assert r.status_code == 400 and "not a readable .xlsx workbook" in r.text


def test_export_streams_the_prefixs_identifiers_as_csv(ent):  # noqa: F811
    node, prefix = ent["node"], ent["prefix"]
    s = sign_in(node, ent["id"], ent["secret"])
    page = s.get(f"{node.url}/console/p/{prefix}/batch")
    s.post(f"{node.url}/console/p/{prefix}/batch", data={"csrf": csrf_of(page.text), "template": "v1"},
           files={"file": ("e.csv", "suffix,产品名称,功率\nE-1,电机甲,7\nE-2,电机乙,8\n".encode(), "text/csv")})
    listing = s.get(f"{node.url}/console/p/{prefix}/handles")
    assert f'/console/p/{prefix}/export?part=0' in listing.text and "导出 CSV" in listing.text
    r = s.get(f"{node.url}/console/p/{prefix}/export?part=0")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["handle", "URL", "template"] and "产品名称" in rows[0]
    by_handle = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_handle[f"{prefix}/E-1"]["产品名称"] == "电机甲" and by_handle[f"{prefix}/E-2"]["功率"] == "8"
    assert by_handle[f"{prefix}/E-1"]["template"] == "v1"
    # the next slice is empty; a slice is bounded whatever the caller asks
    assert len(s.get(f"{node.url}/console/p/{prefix}/export?part=1").content.decode("utf-8-sig").splitlines()) == 1
    assert EXPORT_PART <= 10_000


def test_export_is_for_the_prefixs_administrators_only(ent):  # noqa: F811
    node, prefix = ent["node"], ent["prefix"]
    r = requests.get(f"{node.url}/console/p/{prefix}/export", allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/console/signin"
    s = sign_in(node, ent["id"], ent["secret"])
    r = s.get(f"{node.url}/console/p/88.101.5/export")
    assert r.status_code == 403 and "text/html" in r.headers["Content-Type"]
