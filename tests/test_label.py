"""``idnode label``: a QR code of the node's resolver URL for a handle, on the terminal or as PNG/SVG,
and that URL scanned back resolves on the node."""

from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ET

import requests
import segno

from tests.nodes import idnode


def encoded(url: str, kind: str) -> bytes | str:
    """What segno makes of ``url`` with the label's settings: the file must be exactly this."""
    qr = segno.make(url, error="m", micro=False)
    if kind == "terminal":
        out = io.StringIO()
        qr.terminal(out=out, compact=True)
        return out.getvalue()
    buf = io.BytesIO()
    qr.save(buf, kind=kind, scale=8, border=4)
    return buf.getvalue()


def test_png_and_svg_hold_the_resolver_url(shared_node, auth, tmp_path):
    handle = "88.101.5/LABEL-1"
    r = requests.put(shared_node.api(handle), headers=auth["owner"],
                     json={"values": [{"index": 1, "type": "URL", "data": "https://acme.example/p/label-1"}]})
    assert r.status_code in (200, 201), r.text
    url = f"{shared_node.url}/{handle}"
    png = tmp_path / "label.png"
    p = idnode("label", handle, "--base-url", shared_node.url + "/", "--out", str(png))
    assert p.stdout.strip() == f"wrote {png}: a QR code of {url}"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    modules = segno.make(url, error="m", micro=False).symbol_size(scale=1, border=4)[0]
    assert struct.unpack(">II", data[16:24]) == (modules * 8, modules * 8)
    assert data == encoded(url, "png")
    svg = tmp_path / "label.svg"
    idnode("label", f"hdl:{handle}", "--base-url", shared_node.url, "--out", str(svg))
    root = ET.fromstring(svg.read_bytes())
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and svg.read_bytes() == encoded(url, "svg")
    # What the code holds leads back to the node: a phone opening it, a scanner sending it to /scan.
    r = requests.get(url, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == "https://acme.example/p/label-1"
    r = requests.get(shared_node.url + "/scan", params={"code": url}, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == "https://acme.example/p/label-1"


def test_terminal_and_the_default_address(tmp_path):
    p = idnode("label", "88.101.5/电机 7", "--http", "0.0.0.0:9000")
    url = "http://127.0.0.1:9000/88.101.5/%E7%94%B5%E6%9C%BA%207"
    *art, last = p.stdout.splitlines()
    assert last == url and "\n".join(art) + "\n" == encoded(url, "terminal")
    conf = tmp_path / "node.toml"
    conf.write_text('https = "0.0.0.0:8443"\nadvertise = "192.0.2.7"\n')
    p = idnode("label", "88.101.5/X", "--config", str(conf))
    assert p.stdout.splitlines()[-1] == "https://192.0.2.7:8443/88.101.5/X"


def test_refusals(tmp_path):
    for args, reason in ((["no-slash"], "between prefix and suffix"),
                         (["88.101.5/X", "--base-url", "ftp://x"], "--base-url must look like"),
                         (["88.101.5/X", "--out", str(tmp_path / "x.gif")], "a .png or .svg")):
        p = idnode("label", *args, check=False)
        assert p.returncode != 0 and reason in p.stderr, p.stderr
    assert not (tmp_path / "x.gif").exists()
