"""The public pages and the console in a real headless Chromium (Debian's, driven by Playwright), at a
phone's width: each flow a person follows, in Chinese and English. With ``IDNODE_SCREENSHOTS=1`` the
screenshots of the main pages are written to docs/screenshots/ (the README shows them); otherwise
to the test's temporary folder."""

from __future__ import annotations

import os
import shutil
import struct
import uuid
from pathlib import Path

import pytest
import requests

from tests.nodes import ADMIN_SECRET, NODE_PREFIX, basic

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")

ADMIN_ID = f"300:0.NA/{NODE_PREFIX}"
ADMIN = {"Authorization": basic(ADMIN_ID, ADMIN_SECRET)}
PHONE = {"width": 390, "height": 844}
DOCS = Path(__file__).parent.parent / "docs" / "screenshots"
# The ones the README shows (committed); the others go to the temporary folder.
DOCUMENTED = {"record-zh", "trace-zh", "record-en", "console-register", "console-batch", "operator-audit",
              "console-stats", "operator-status", "console-owner"}


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("screenshots")
    if os.environ.get("IDNODE_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        return {"docs": DOCS, "tmp": tmp}
    return {"docs": tmp, "tmp": tmp}


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def shop(shared_node):
    """An enterprise with a CJK name, a template, an item with its history, and a part in it."""
    url = shared_node.url
    prefix = f"88.101.{500}{uuid.uuid4().int % 10**6:06d}"
    secret = "browser-secret-1"
    r = requests.post(f"{url}/api/prefixes", headers=ADMIN,
                      json={"prefix": prefix, "secret": secret, "owner": {"name": "华东精密机械有限公司"}})
    assert r.status_code == 201, r.text
    owner = {"Authorization": basic(f"300:0.NA/{prefix}", secret)}
    r = requests.post(f"{url}/api/templates", headers=owner, json={"prefix": prefix, "version": "v1", "name": "减速机",
                                                                   "fields": [
        {"name": "产品名称", "type": "productName", "index": 2001, "required": True},
        {"name": "出厂日期", "type": "madeOn", "index": 2002, "constraints": {"datatype": "date"}}]})
    assert r.status_code == 201, r.text
    item, part = f"{prefix}/GB-2026-001", f"{prefix}/BEARING-7"
    r = requests.put(shared_node.api(item), headers=owner, json={"values": [
        {"index": 1001, "type": "TEMPLATE", "data": "v1"}, {"index": 2001, "type": "productName", "data": "齿轮减速机 R-57"},
        {"index": 2002, "type": "madeOn", "data": "2026-03-01"}]})
    assert r.status_code == 201, r.text
    r = requests.put(shared_node.api(part), headers=owner, json={"values": [
        {"index": 2001, "type": "productName", "data": "深沟球轴承 6205"}]})
    assert r.status_code == 201, r.text

    def ev(when, kind="ObjectEvent", **f):
        return {"type": kind, "eventTime": f"{when}+08:00", "eventTimeZoneOffset": "+08:00", **f}

    r = requests.post(f"{url}/api/events", headers=owner, json={
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"], "type": "EPCISDocument",
        "schemaVersion": "2.0", "creationDate": "2026-03-02T08:00:00Z", "epcisBody": {"eventList": [
            ev("2026-03-01T10:00:00", "AssociationEvent", parentID=item, childEPCs=[part], action="ADD",
               bizStep="assembling"),
            ev("2026-03-02T16:00:00", epcList=[item], action="OBSERVE", bizStep="commissioning", disposition="active"),
            ev("2026-03-05T09:30:00", epcList=[item], action="OBSERVE", bizStep="shipping",
               disposition="in_transit")]}})
    assert r.status_code == 201, r.text
    # its logo, as the enterprise uploads it in the console (the upload itself is tested below)
    from tests.test_console import csrf_of
    from tests.test_console import sign_in as console_session

    s = console_session(shared_node, f"300:0.NA/{prefix}", secret)
    token = csrf_of(s.get(f"{url}/console/p/{prefix}/owner").text)
    r = s.post(f"{url}/console/p/{prefix}/logo", data={"csrf": token},
               files={"logo": ("logo.png", logo_png("#0b5cad"), "image/png")})
    assert r.status_code == 200, r.text
    return {"node": shared_node, "url": url, "prefix": prefix, "id": f"300:0.NA/{prefix}", "secret": secret,
            "item": item, "part": part}


def logo_png(colour: str) -> bytes:
    """A made-up logo: a ring in a rounded square."""
    import io

    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (120, 120), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, 119, 119), 24, fill=colour)
    draw.ellipse((28, 28, 91, 91), outline="white", width=12)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def shot(page, folders: dict[str, Path], name: str) -> None:
    path = folders["docs" if name in DOCUMENTED else "tmp"] / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    png = path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">I", png[16:20])[0] == page.viewport_size["width"]


def phone(browser, locale: str):
    return browser.new_context(viewport=PHONE, locale=locale, device_scale_factor=1)


def sign_in(page, url: str, identity: str, secret: str) -> None:
    page.goto(f"{url}/console/")
    assert page.url.endswith("/console/signin")
    page.fill("#identity", identity)
    page.fill("#secret", secret)
    page.click("#signin")
    page.wait_for_load_state()


def test_public_pages_in_chinese_and_english(browser, shop, shots):
    ctx = phone(browser, "zh-CN")
    page = ctx.new_page()
    page.goto(f"{shop['url']}/{shop['item'].lower()}?noredirect")
    text = page.inner_text("main")
    assert "华东精密机械有限公司" in text and shop["item"] in text and "产品名称" in text and "齿轮减速机 R-57" in text
    assert "赋码登记" in text and "运输中" in text and "2026年3月5日 09:30（UTC+08:00）" in text
    assert "HS_ADMIN" not in text and "2001" not in text
    assert page.evaluate("document.querySelector('#ent-logo').naturalWidth") == 120  # the enterprise's logo
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    shot(page, shots, "record-zh")
    page.click("text=完整追溯")  # follow the trace from the record page
    page.wait_for_load_state()
    text = page.inner_text("main")
    assert "/trace/" in page.url and "当前状态" in text and "原料与部件" in text and shop["part"] in text
    assert page.is_visible("#lineage") and "谱系图" in text  # the lineage as a picture
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, shots, "trace-zh")
    page.click("#lineage a.ours rect")  # and on to the part, through its box in the picture
    page.wait_for_load_state()
    assert shop["part"] in page.inner_text("h1") and "组装" in page.inner_text("main")
    ctx.close()
    ctx = phone(browser, "en-US")
    page = ctx.new_page()
    page.goto(f"{shop['url']}/{shop['item']}?noredirect")
    text = page.inner_text("main")
    assert "Lifecycle" in text and "Shipped" in text and "5 Mar 2026, 09:30 (UTC+08:00)" in text
    shot(page, shots, "record-en")
    page.click("text=中文")  # the language switch
    page.wait_for_load_state()
    assert "生命周期" in page.inner_text("main")
    ctx.close()


def test_enterprise_signs_in_registers_uploads_edits_and_traces(browser, shop, shots):
    url, prefix = shop["url"], shop["prefix"]
    ctx = phone(browser, "zh-CN")
    page = ctx.new_page()
    sign_in(page, url, shop["id"], shop["secret"])
    assert page.url.endswith(f"/console/p/{prefix}/handles") and shop["item"] in page.inner_text("main")
    cookie = next(c for c in ctx.cookies() if c["name"] == "idn_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    shot(page, shots, "console-identifiers")
    # register one through the form the template makes
    page.click("text=注册标识")
    page.select_option("#template", "v1")
    page.click("#choose")
    page.fill("#suffix", "GB-2026-002")
    page.fill("#f2001", "齿轮减速机 R-67")
    page.fill("#f2002", "2026-04-01")
    shot(page, shots, "console-register")
    page.click("#register")
    page.wait_for_load_state()
    assert f"/console/h/{prefix}/GB-2026-002" in page.url and "齿轮减速机 R-67" in page.inner_text("main")
    # edit it through the same form, filled with its values
    page.click("#edit")
    assert page.input_value("#f2001") == "齿轮减速机 R-67"
    page.fill("#f2001", "齿轮减速机 R-67（改）")
    page.click("#save")
    page.wait_for_load_state()
    assert "齿轮减速机 R-67（改）" in page.inner_text("main")
    # a batch from a CSV file, watched to the end
    page.click("text=批量注册")
    rows = "suffix,产品名称,出厂日期\n" + "".join(f"B-{n},减速机 {n},2026-05-0{1 + n % 9}\n" for n in range(450))
    rows += "B-BAD,,2026-05-01\n"
    page.set_input_files("#file", files=[{"name": "批量.csv", "mimeType": "text/csv", "buffer": rows.encode()}])
    page.click("#upload")
    page.wait_for_selector("#batch-done", timeout=60_000)
    text = page.inner_text("main")
    assert "完成：共 451 行，成功 450，拒绝 1。" in text and "已处理 451 / 451" in text and "B-BAD" in text
    assert page.get_attribute("#report", "download") == "refused-rows.csv"
    shot(page, shots, "console-batch")
    assert requests.get(shop["node"].api(f"{prefix}/B-449")).status_code == 200
    # edit the template: one more field
    page.click("text=数据模板")
    page.click("text=v1")
    page.fill("#fields", page.input_value("#fields") + "\n颜色 | color | 2003 | optional | string")
    shot(page, shots, "console-template")
    page.click("#save")
    page.wait_for_load_state()
    assert "颜色" in page.inner_text("main")
    # follow a trace
    page.click("nav >> text=追溯")
    page.fill("#id", shop["item"])
    page.click("#follow")
    page.wait_for_load_state()
    text = page.inner_text("main")
    assert "发货" in text and "运输中" in text and shop["part"] in text
    # sign out: the session is over, the console asks to sign in again
    page.click("#signout")
    page.wait_for_load_state()
    assert page.url.endswith("/console/signin")
    page.goto(f"{url}/console/p/{prefix}/handles")
    assert page.url.endswith("/console/signin")
    ctx.close()


def test_a_form_with_a_forged_csrf_token_is_refused(browser, shop):
    url, prefix = shop["url"], shop["prefix"]
    ctx = phone(browser, "en-US")
    page = ctx.new_page()
    sign_in(page, url, shop["id"], shop["secret"])
    page.goto(f"{url}/console/p/{prefix}/register?template=v1")
    page.fill("#suffix", "FORGED-1")
    page.fill("#f2001", "x")
    page.evaluate("document.querySelector('#register-form input[name=csrf]').value = 'forged'")
    page.click("#register")
    page.wait_for_load_state()
    assert "CSRF" in page.inner_text("main")
    assert requests.get(shop["node"].api(f"{prefix}/FORGED-1")).status_code == 404
    ctx.close()


def test_operator_allocates_a_prefix_and_reads_the_audit_trail(browser, shop, shots):
    url = shop["url"]
    ctx = browser.new_context(viewport={"width": 800, "height": 900}, locale="zh-CN", device_scale_factor=1)
    page = ctx.new_page()
    sign_in(page, url, ADMIN_ID, ADMIN_SECRET)
    assert page.url.endswith("/console/admin/prefixes")
    wanted = f"88.101.{600}{uuid.uuid4().int % 10**6:06d}"
    page.fill("#prefix", wanted)
    page.fill("#name", "新能源装备股份公司")
    page.click("#allocate")
    page.wait_for_selector("#made")
    assert f"已分配前缀 {wanted}" in page.inner_text("#made") and "新能源装备股份公司" in page.inner_text("main")
    shot(page, shots, "operator-prefixes")
    page.click(f"button.rotate[data-prefix='{wanted}']")  # a new secret for it, shown once
    page.wait_for_selector("#rotated")
    assert f"已为前缀 {wanted} 生成新密钥" in page.inner_text("#rotated") and page.inner_text("#rotated code")
    page.click("text=审计日志")
    page.fill("#op", "allocate_prefix")
    page.fill("#prefix", wanted)
    page.click("#filter")
    page.wait_for_load_state()
    text = page.inner_text("table")
    assert wanted in text and "allocate_prefix" in text and ADMIN_ID in text and "console" in text
    shot(page, shots, "operator-audit")
    page.click("text=节点状态")  # health, federation, mirrors, the report owed upstream
    page.wait_for_load_state()
    text = page.inner_text("main")
    assert "健康与关键指标" in text and "未配置上级节点。" in text and wanted in page.inner_text("#report")
    shot(page, shots, "operator-status")
    ctx.close()


def test_enterprise_uploads_a_workbook_exports_and_reads_its_statistics(browser, shop, shots):
    import io
    import time

    from openpyxl import Workbook

    url, prefix = shop["url"], shop["prefix"]
    for _ in range(3):  # scans of the item: counted per prefix, flushed to the store every second
        assert requests.get(shop["node"].api(shop["item"])).status_code == 200
    ctx = phone(browser, "zh-CN")
    page = ctx.new_page()
    sign_in(page, url, shop["id"], shop["secret"])
    # a batch from an Excel workbook, as a spreadsheet on a desktop saves it
    book = Workbook()
    for row in (["suffix", "产品名称", "出厂日期"], ["XL-1", "减速机 XL-1", "2026-06-01"], ["XL-2", None, None]):
        book.active.append(row)
    raw = io.BytesIO()
    book.save(raw)
    page.click("text=批量注册")
    page.set_input_files("#file", files=[{"name": "批量.xlsx", "buffer": raw.getvalue(), "mimeType":
                                          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
    page.click("#upload")
    page.wait_for_selector("#batch-done", timeout=60_000)
    assert "完成：共 2 行，成功 1，拒绝 1。" in page.inner_text("main")
    assert requests.get(shop["node"].api(f"{prefix}/XL-1")).status_code == 200
    # export: the identifiers as a CSV file the browser downloads
    page.click("nav >> text=标识")
    with page.expect_download() as dl:
        page.click("#export >> text=导出 CSV")
    text = Path(dl.value.path()).read_text(encoding="utf-8-sig")
    assert text.startswith("handle,URL,template,") and f"{prefix}/XL-1," in text and "减速机 XL-1" in text
    # statistics: registrations and resolutions per day, sources, drawn as SVG on the server
    time.sleep(2.5)
    page.click("nav >> text=统计")
    page.wait_for_selector("#chart-resolutions")
    main = page.inner_text("main")
    assert "每日注册量" in main and "主要请求来源" in main and "127.0.0.1" in page.content()
    assert page.locator("#chart-registrations rect").count() >= 14
    # the numbers agree: the sources add up to the requests (the export's reads among them, from this
    # browser's address), and the daily bars to the same total
    import re

    requests_n = int(re.search(r"期间共 (\d+) 次解析请求", page.inner_text("#st-requests"))[1])
    sources = page.evaluate("Array.from(document.querySelectorAll('#chart-sources desc.value'), d => +d.textContent)")
    daily = page.evaluate("Array.from(document.querySelectorAll('#chart-resolutions .serie-0 desc.value'), "
                          "d => +d.textContent)")
    assert sum(sources) == requests_n == sum(daily) and "来源未知" not in main, (sources, requests_n, daily)
    # the top identifiers: the scanned item, as registered, with its three scans at least
    assert "解析最多的标识" in main
    top = page.evaluate("Array.from(document.querySelectorAll('#chart-identifiers rect title'), t => t.textContent)")
    assert any(t.startswith(shop["item"] + ": ") and int(t.rpartition(": ")[2]) >= 3 for t in top), top
    shot(page, shots, "console-stats")
    ctx.close()


def test_enterprise_edits_its_details_and_logo_and_the_public_page_shows_them(browser, shop, shots):
    url = shop["url"]
    ctx = phone(browser, "zh-CN")
    page = ctx.new_page()
    sign_in(page, url, shop["id"], shop["secret"])
    page.click("nav >> text=企业信息")
    page.wait_for_selector("#owner-form")
    page.fill("#phone", "0512-6666 8888")
    page.fill("#websiteName", "华东精密官网")
    page.click("#save-owner")
    page.wait_for_selector("#saved")
    assert page.input_value("#phone") == "0512-6666 8888"
    page.set_input_files("#logo-file", files=[{"name": "标志.png", "mimeType": "image/png",
                                               "buffer": logo_png("#a3262a")}])
    page.click("#upload-logo")
    page.wait_for_selector("#saved")
    assert "标志已更新" in page.inner_text("#saved")
    assert page.evaluate("document.querySelector('#logo').naturalWidth") == 120
    shot(page, shots, "console-owner")
    # an SVG is refused, in the page's language, and the logo stays
    page.set_input_files("#logo-file", files=[{"name": "x.svg", "mimeType": "image/svg+xml",
                                               "buffer": b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)"
                                                         b"</script></svg>"}])
    page.click("#upload-logo")
    page.wait_for_selector("#error")
    assert page.inner_text("#error").startswith("填写的内容不正确（字段 logo）")
    page.goto(f"{url}/{shop['item']}?noredirect")
    red = page.evaluate("""() => { const i = document.querySelector('#ent-logo'), c = document.createElement('canvas');
        c.width = i.naturalWidth; c.height = i.naturalHeight; const g = c.getContext('2d'); g.drawImage(i, 0, 0);
        return Array.from(g.getImageData(60, 10, 1, 1).data); }""")
    assert red[:3] == [0xa3, 0x26, 0x2a], red  # the new logo, on the page a scan opens
    ctx.close()


def test_operator_is_told_in_chinese_that_the_node_has_no_upstream_to_send_to(browser, shop):
    ctx = browser.new_context(viewport={"width": 800, "height": 900}, locale="zh-CN", device_scale_factor=1)
    page = ctx.new_page()
    sign_in(page, shop["url"], ADMIN_ID, ADMIN_SECRET)
    page.click("text=节点状态")
    page.click("#send-reports")
    page.wait_for_selector("#error")
    assert page.inner_text("#error").startswith("与节点现有数据冲突。详情：this node has no upstream")
    ctx.close()
