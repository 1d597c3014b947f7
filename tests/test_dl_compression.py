"""Compressed GS1 Digital Link URIs: decompressed as GS1's prototype compresses them, and answered by a
real node exactly as their uncompressed form, with ``Link: <uncompressed>; rel="owl:sameAs"``.

GS1-Conformant Resolver 1.x: "SHALL be able to decompress a compressed GS1 Digital Link URI" and
expose the uncompressed URI it stands for. Vectors: tests/data/dl-compression/ (origin in its README).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from protocol.codes import HandleError
from protocol.dl_compression import B64, MAX_SEGMENT, decode, decompress, is_compressed_path

VECTORS = json.loads((Path(__file__).parent / "data" / "dl-compression" / "vectors.json").read_text())
GTIN = "09506000134352"
ENT = "88.101.5"


def _split(uri: str) -> tuple[str, str, list[tuple[str, str]]]:
    u = urlsplit(uri)
    return f"{u.scheme}://{u.netloc}", u.path, sorted(parse_qsl(u.query))


def _segment(bits: str) -> str:
    """Bits as the standard writes them: URI-safe base64, zero-padded (a test's own malformed input)."""
    bits += "0" * (-len(bits) % 6)
    return "".join(B64[int(bits[i:i + 6], 2)] for i in range(0, len(bits), 6))


@pytest.mark.parametrize("v", VECTORS, ids=[v["compressed"].rsplit("/", 1)[1] for v in VECTORS])
def test_decompresses_as_gs1s_prototype_compressed(v):
    base, path, _ = _split(v["compressed"])
    want_base, want_path, want_query = _split(v["uncompressed"])
    assert is_compressed_path(path)
    got = decompress(path)
    got_base, got_path, got_query = _split(got.uri(base))
    assert (got_base, got_path, got_query) == (want_base, want_path, want_query)


@pytest.mark.parametrize("path,why", [
    ("/ARFKk4XB", "ends in the middle of a value"),  # a GTIN cut short
    ("/ARFKk4XBoB", "padding after the last value is not zero"),
    ("/6D0000000000", "neither an AI nor a sequence"),
    ("/" + _segment("0100" + "1000"), "no AI starts with 48"),
    ("/" + _segment("0100" + "0011" + "0011" + "0000" + "0" * 20), "AI (4330) is not one"),  # newer than the tables
    ("/" + _segment("0001" + "0001" + "0" * 47) + "A" * 3, "ends in the middle"),
    ("/" + "A" * (MAX_SEGMENT + 1), f"1 to {MAX_SEGMENT} characters"),
    ("/" + _segment("00000001" + format(10 ** 14 + 5, "047b")), "14-digit number is encoded as"),
    ("/" + _segment("00010000" + "000" + "10101" + "0100" * 21), "(10) is given 21 characters, at most 20"),
    ("/" + _segment("00010000" + "111" + "00001" + "0" * 12), "unknown character encoding 7"),
    ("/" + _segment("00010000" + "100" + "00001" + "0001010"), "control character"),
    ("/" + _segment("0100" + "0001" + "1010" + "0" * 8), "not all digits"),  # 41, then AI digit A
])
def test_malformed_compressed_segments_are_refused_with_the_reason(path, why):
    with pytest.raises(HandleError) as e:
        decompress(path)
    assert e.value.status == 400 and why in e.value.message, e.value.message


def test_two_primary_keys_or_none_are_refused():
    gtin = "00000001" + format(int(GTIN), "047b")
    with pytest.raises(HandleError, match="2 primary keys"):
        decompress("/" + _segment(gtin + gtin.replace("00000001", "00000000", 1)[:8] + "0" * 60))
    with pytest.raises(HandleError, match="0 primary keys"):
        decompress("/" + _segment("00010000" + "011" + "00001" + "000000"))  # (10) alone
    with pytest.raises(HandleError, match="both in the path and compressed"):
        decompress(f"/01/{GTIN}/ARFKk4XBoA")


@pytest.mark.serial  # a CPU-time bound: run alone
def test_decoding_cost_is_bounded_by_the_segment_length():
    """An attacker's longest segment (many tiny non-GS1 pairs) is read in one pass, quickly."""
    pair = "1111" + "0000001" + "000000" + "011" + "0000000"  # F, key length 1, key "A", base64, no value
    seg = _segment(pair * (MAX_SEGMENT * 6 // len(pair)))[:MAX_SEGMENT]
    t = time.perf_counter()
    for _ in range(20):
        try:
            decode(seg)
        except HandleError:
            pass
    assert (time.perf_counter() - t) / 20 < 0.05


# --- a real node ---------------------------------------------------------------------------------

def get(node, path: str, method: str = "GET", **kw) -> requests.Response:
    return requests.request(method, node.url + path, allow_redirects=False, **kw)


@pytest.fixture(scope="module")
def records(shared_node, auth) -> str:
    tag = uuid.uuid4().hex[:8].upper()
    recs = {
        f"{ENT}/P-{tag}": [{"index": 1, "type": "URL", "data": "https://brand.example.com/product"},
                           {"index": 2, "type": "gs1:recallStatus", "data": "https://brand.example.com/recall"},
                           {"index": 2010, "type": "GS1", "data": GTIN}],
        f"{ENT}/L-{tag}": [{"index": 1, "type": "gs1:recallStatus", "data": "https://brand.example.com/recall/LOT1"},
                           {"index": 2010, "type": "GS1", "data": f"(01){GTIN}(10)LOT1"}],
        f"{ENT}/S-{tag}": [{"index": 1, "type": "URL", "data": "https://brand.example.com/item/S1"},
                           {"index": 2010, "type": "GS1", "data": f"(01){GTIN}(21)S1"}],
    }
    for handle, values in recs.items():
        r = requests.put(shared_node.api(handle), json={"values": values}, headers=auth["owner"])
        assert r.status_code == 201, r.text
    return tag


# compressed path -> the uncompressed path and query it stands for (from the vectors)
SAME = {
    "/ARFKk4XBoA": f"/01/{GTIN}",
    "/CxFKk4XBoMhZyeouhG_g": f"/01/{GTIN}/10/LOT1?17=271231",
    "/ARFKk4XBoCDIWcnqLoRv4": f"/01/{GTIN}/10/LOT1?17=271231",
    "/LRFKk4XBoAAXouhG_kLElr4N-ihg22qw": f"/01/{GTIN}/21/S1?3103=000189&17=271231&foo=bar",
    f"/01/{GTIN}/F0I38hYktQ": f"/01/{GTIN}/21/S1?17=271231",
}


@pytest.mark.parametrize("compressed", list(SAME))
def test_a_compressed_uri_redirects_like_its_uncompressed_form(shared_node, records, compressed):
    plain = SAME[compressed]
    for method in ("GET", "HEAD"):
        a, b = get(shared_node, compressed, method), get(shared_node, plain, method)
        assert a.status_code == b.status_code == 307, (method, a.status_code, a.text)
        # SHOULD NOT redirect to the equivalent uncompressed URI on the same resolver: straight to the link.
        assert not a.headers["Location"].startswith(shared_node.url)
        assert _split(a.headers["Location"]) == _split(b.headers["Location"])
        assert a.headers["Access-Control-Allow-Origin"] == "*"
        same_as = [x for x in a.headers["Link"].split(", ") if 'rel="owl:sameAs"' in x]
        assert len(same_as) == 1
        assert _split(same_as[0].split(">")[0].lstrip("<")) == _split(shared_node.url + plain)
        assert 'rel="linkset"' in a.headers["Link"]
    # The query the client adds is passed on too.
    r = get(shared_node, compressed + "?src=qr")
    assert ("src", "qr") in parse_qsl(urlsplit(r.headers["Location"]).query)


def test_link_types_and_linksets_through_a_compressed_uri(shared_node, records):
    r = get(shared_node, "/CxFKk4XBoMhZyeouhG_g", params={"linkType": "gs1:recallStatus"})
    assert r.status_code == 307 and r.headers["Location"] == "https://brand.example.com/recall/LOT1?17=271231"
    a = get(shared_node, "/CxFKk4XBoMhZyeouhG_g", headers={"Accept": "application/linkset+json"})
    b = get(shared_node, f"/01/{GTIN}/10/LOT1", headers={"Accept": "application/linkset+json"})
    assert a.status_code == b.status_code == 200 and a.json() == b.json()
    assert a.json()["linkset"][0]["anchor"] == f"{shared_node.url}/01/{GTIN}/10/LOT1"
    assert 'rel="owl:sameAs"' in a.headers["Link"]
    assert get(shared_node, "/ARFKk4XBoA", "OPTIONS").status_code == 204


@pytest.mark.parametrize("path,why", [
    ("/ARFKk4XB", "ends in the middle of a value"),
    ("/ARFKk4XBoB", "padding"),
    ("/ARFKk4XBog", "check digit"),  # GTIN 09506000134353: decompresses, then fails as any Digital Link
    (f"/01/{GTIN}/foo", "even number of path segments"),
    ("/" + "A" * (MAX_SEGMENT + 1), "characters"),
])
def test_a_malformed_compressed_uri_is_400_with_the_reason_never_200(shared_node, records, path, why):
    for method in ("GET", "HEAD"):
        assert get(shared_node, path, method).status_code == 400, (path, method)
    r = get(shared_node, path)
    assert why in r.json()["message"] and r.json()["message"].startswith("not a GS1 Digital Link URI"), r.text
    assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_a_compressed_key_no_record_carries_is_404(shared_node, records):
    r = get(shared_node, "/ABeRcNWtKMPA")  # /00/106141412345678908
    assert r.status_code == 404 and 'rel="owl:sameAs"' in r.headers["Link"]


def test_named_routes_are_not_read_as_compressed(shared_node, records):
    assert requests.get(shared_node.url + "/healthz").status_code == 200
    r = get(shared_node, "/scan", params={"code": f"01{GTIN}21S1"})
    assert r.status_code == 302 and r.headers["Location"] == "https://brand.example.com/item/S1"
