"""A GS1-Conformant Digital Link resolver on a real node, checked as GS1's resolver test suite checks it.

Each test names the conformance statement it checks (GS1-Conformant Resolver 1.x, as listed in
ConformantResolver1_0.txt of gs1/GS1DL-resolver-testsuite). A product, one of its lots and one
serialised item are registered as handles carrying their GS1 keys; their records carry the links.
"""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.nodes import ADMIN_SECRET, Node, basic, idnode

GTIN = "09506000134352"
ENT = "88.101.5"
LINKSET = "application/linkset+json"


def get(node, path: str, method: str = "GET", **kw) -> requests.Response:
    return requests.request(method, node.url + path, allow_redirects=False, **kw)


@pytest.fixture(scope="module")
def dl(shared_node, auth) -> dict:
    tag = uuid.uuid4().hex[:8].upper()
    serial, lot = f"S{tag}", f"L{tag}"
    recs = {
        f"{ENT}/PRODUCT-{tag}": [
            {"index": 1, "type": "URL", "data": "https://brand.example.com/product"},
            {"index": 2, "type": "gs1:pip", "data": json.dumps({"href": "https://brand.example.com/pip/en",
                                                                "title": "Product information", "hreflang": ["en"],
                                                                "type": "text/html"})},
            {"index": 3, "type": "gs1:pip", "data": json.dumps({"href": "https://brand.example.com/pip/fr",
                                                                "title": "Fiche produit", "hreflang": ["fr"]})},
            {"index": 4, "type": "gs1:certificationInfo", "data": "https://cert.example.org/c/1"},
            {"index": 5, "type": "gs1:recallStatus", "data": "https://brand.example.com/recall/product"},
            {"index": 2010, "type": "GS1", "data": GTIN}],
        f"{ENT}/LOT-{tag}": [
            {"index": 1, "type": "gs1:recallStatus", "data": f"https://brand.example.com/recall/{lot}"},
            {"index": 2010, "type": "GS1", "data": f"(01){GTIN}(10){lot}"}],
        f"{ENT}/ITEM-{tag}": [
            {"index": 1, "type": "URL", "data": f"https://brand.example.com/item/{serial}?src=id"},
            {"index": 2, "type": "gs1:traceability", "data": "not a url"},
            {"index": 2010, "type": "GS1", "data": f"(01){GTIN}(21){serial}"}],
    }
    for handle, values in recs.items():
        r = requests.put(shared_node.api(handle), json={"values": values}, headers=auth["owner"])
        assert r.status_code == 201, r.text
    return {"serial": serial, "lot": lot, "tag": tag, "item": f"/01/{GTIN}/21/{serial}",
            "lotpath": f"/01/{GTIN}/10/{lot}", "product": f"/01/{GTIN}"}


def test_redirects_to_the_default_link(shared_node, dl):
    """SHALL redirect to the default link unless the request says more; SHALL recognise one default."""
    r = get(shared_node, dl["product"])
    assert r.status_code == 307 and r.headers["Location"] == "https://brand.example.com/product"
    r = get(shared_node, dl["item"])
    assert r.status_code == 307 and r.headers["Location"] == f"https://brand.example.com/item/{dl['serial']}?src=id"


def test_walks_up_the_tree_item_lot_product(shared_node, dl):
    """Key qualifiers SHALL be supported: an unknown serial or lot answers from the level above."""
    r = get(shared_node, f"/01/{GTIN}/21/UNKNOWN")
    assert r.status_code == 307 and r.headers["Location"] == "https://brand.example.com/product"
    # The lot's recall status, not the product's; a lot and serial together: the item's link first.
    r = get(shared_node, dl["lotpath"] + "?linkType=gs1:recallStatus")
    assert r.headers["Location"] == f"https://brand.example.com/recall/{dl['lot']}"
    both = f"/01/{GTIN}/10/{dl['lot']}/21/{dl['serial']}"
    assert get(shared_node, both).headers["Location"].startswith("https://brand.example.com/item/")
    r = get(shared_node, both + "?linkType=gs1:recallStatus")
    assert r.headers["Location"] == f"https://brand.example.com/recall/{dl['lot']}"
    r = get(shared_node, both + "?linkType=gs1:certificationInfo")
    assert r.headers["Location"] == "https://cert.example.org/c/1"


def test_link_type_redirects_or_404(shared_node, dl):
    """SHALL redirect to the requested type of link if available; SHALL return 404 if not."""
    for spelling in ("gs1:certificationInfo", "https://gs1.org/voc/certificationInfo",
                     "https://ref.gs1.org/voc/certificationInfo"):
        r = get(shared_node, dl["item"], params={"linkType": spelling})
        assert r.status_code == 307 and r.headers["Location"] == "https://cert.example.org/c/1", spelling
    r = get(shared_node, dl["item"], params={"linkType": "gs1:nosuchlt"})
    assert r.status_code == 404 and "gs1:nosuchlt" in r.json()["message"]
    # A value that is no URL is not a link.
    assert get(shared_node, dl["item"], params={"linkType": "gs1:traceability"}).status_code == 404


def test_accept_language_picks_among_links_of_one_type(shared_node, dl):
    r = get(shared_node, dl["product"] + "?linkType=gs1:pip", headers={"Accept-Language": "fr-CH, en;q=0.5"})
    assert r.headers["Location"] == "https://brand.example.com/pip/fr"
    r = get(shared_node, dl["product"] + "?linkType=gs1:pip", headers={"Accept-Language": "de"})
    assert r.headers["Location"] == "https://brand.example.com/pip/en"


def test_query_string_is_passed_on(shared_node, dl):
    """By default, SHALL pass on all key=value pairs in the query string when redirecting."""
    r = get(shared_node, dl["product"] + "?foo=bar&17=271231")
    assert r.headers["Location"] == "https://brand.example.com/product?foo=bar&17=271231"
    r = get(shared_node, dl["item"] + "?foo=bar")  # the target has a query of its own
    assert r.headers["Location"].endswith("?src=id&foo=bar")
    r = get(shared_node, dl["product"] + "?linkType=gs1:certificationInfo&foo=bar")
    assert r.headers["Location"] == "https://cert.example.org/c/1?foo=bar"
    # An attacker's query cannot add a header or change the target's host: it is re-encoded.
    r = get(shared_node, dl["product"] + "?x=%0D%0ASet-Cookie:%20a=b&@evil.example=1")
    assert "Set-Cookie" not in r.headers
    assert r.headers["Location"].startswith("https://brand.example.com/product?x=%0D%0ASet-Cookie")


def _linkset_ok(body: dict, anchors: list[str]) -> None:
    assert [c["anchor"] for c in body["linkset"]] == anchors
    for ctx in body["linkset"]:
        assert isinstance(ctx["itemDescription"], str)  # GS1's linkset schema requires one
        for rel, links in ctx.items():
            if rel in ("anchor", "itemDescription"):
                continue
            assert rel.startswith("https://gs1.org/voc/")
            for link in links:  # all links SHALL include target URL, link type and a title
                assert link["href"].startswith("https://") and link["title"]


def test_linkset_on_link_type_or_accept(shared_node, dl):
    """SHALL return the linkset (RFC 9264) on linkType=linkset or Accept: application/linkset+json,
    with every level up to the primary key, anchored at the uncompressed URI."""
    base = shared_node.url
    for kw in ({"params": {"linkType": "linkset"}}, {"headers": {"Accept": LINKSET}}, {"params": {"linkType": "all"}}):
        r = get(shared_node, f"/01/{GTIN}/10/{dl['lot']}/21/{dl['serial']}", **kw)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(LINKSET), kw
        body = r.json()
        _linkset_ok(body, [base + dl["item"], base + dl["lotpath"], base + dl["product"]])
        assert 'rel="http://www.w3.org/ns/json-ld#context"' in r.headers["Link"]
        assert 'type="application/ld+json"' in r.headers["Link"]
    prod = body["linkset"][2]
    assert prod["https://gs1.org/voc/defaultLink"] == [{"href": "https://brand.example.com/product",
                                                         "title": f"{ENT}/PRODUCT-{dl['tag']}"}]
    assert {x["hreflang"][0] for x in prod["https://gs1.org/voc/pip"]} == {"en", "fr"}
    ctx = get(shared_node, "/.well-known/gs1resolver/linkset-context.jsonld")
    assert ctx.status_code == 200 and ctx.headers["Content-Type"].startswith("application/ld+json")


def test_link_header_to_the_linkset_even_when_redirecting(shared_node, dl):
    r = get(shared_node, dl["item"])
    assert r.status_code == 307
    assert f'<{shared_node.url}{dl["item"]}?linkType=linkset>; rel="linkset"' in r.headers["Link"]
    assert 'rel="gs1:' not in r.headers["Link"]  # no legacy per-link headers


def test_get_head_options_and_cors(shared_node, dl):
    """SHALL support GET, HEAD and OPTIONS; SHALL support CORS."""
    for method in ("GET", "HEAD", "OPTIONS"):
        r = get(shared_node, dl["item"], method, headers={"Origin": "https://app.example"})
        assert r.headers["Access-Control-Allow-Origin"] == "*", method
        methods = r.headers["Access-Control-Allow-Methods"]
        assert all(m in methods for m in ("GET", "HEAD", "OPTIONS"))
    assert get(shared_node, dl["item"], "HEAD").status_code == 307
    r = get(shared_node, dl["item"], "OPTIONS")
    assert r.status_code == 204  # the suite looks for the Link to the linkset in the OPTIONS answer
    assert f'<{shared_node.url}{dl["item"]}?linkType=linkset>; rel="linkset"' in r.headers["Link"]
    assert "Link" in get(shared_node, dl["item"]).headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize("path,why", [
    (f"/01/{GTIN[:-1]}3", "check digit"),
    (f"/01/{GTIN}/foo", "even number of path segments"),
    (f"/01/{GTIN}/21/1/10/L", "qualifier"),
    ("/00/123", "AI (00) pattern"),
    ("/414/123456789012X", ""),
    ("/01/" + "1" * 600, "at most 512"),
])
def test_a_uri_that_does_not_parse_is_400_with_the_reason(shared_node, dl, path, why):
    """SHALL validate the URI and report errors with 400; SHALL NOT use 200 for an error."""
    for method in ("GET", "HEAD"):
        r = get(shared_node, path, method)
        assert r.status_code == 400, (path, r.status_code)
    r = get(shared_node, path)
    assert "not a GS1 Digital Link URI" in r.json()["message"] and why in r.json()["message"], r.text
    assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_unknown_key_is_404_never_200(shared_node, dl):
    r = get(shared_node, "/00/106141412345678908")
    assert r.status_code == 404 and "no record on this node carries" in r.json()["message"]
    assert get(shared_node, "/00/106141412345678908", params={"linkType": "linkset"}).status_code == 404


def test_trailing_slashes_and_short_names_are_tolerated(shared_node, dl):
    """SHOULD tolerate trailing slashes."""
    a, b = get(shared_node, dl["item"]), get(shared_node, dl["item"] + "/")
    assert (a.status_code, a.headers["Location"]) == (b.status_code, b.headers["Location"])
    r = get(shared_node, f"/gtin/{GTIN}/ser/{dl['serial']}")
    assert r.status_code == 307 and r.headers["Location"] == a.headers["Location"]


def test_resolver_description_file(shared_node):
    """SHALL provide a resolver description file at /.well-known/gs1resolver listing the primary keys."""
    r = get(shared_node, "/.well-known/gs1resolver", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    d = r.json()
    assert d["resolverRoot"] == shared_node.url and {"01", "00", "414", "417", "8004"} <= set(d["supportedPrimaryKeys"])
    assert d["jsonLdContextLocation"].endswith("/linkset-context.jsonld")


def test_other_primary_keys_resolve(shared_node, auth):
    tag = uuid.uuid4().hex[:6].upper()
    recs = {f"{ENT}/DOCK-{tag}": ("(414)9520123456788(254)D" + tag, "https://site.example/dock"),
            f"{ENT}/SITE-{tag}": ("(414)9520123456788", "https://site.example/"),
            f"{ENT}/PALLET-{tag}": ("(00)106141412345678915", "https://logistics.example/pallet")}
    for handle, (key, url) in recs.items():
        r = requests.put(shared_node.api(handle), json={"values": [
            {"index": 1, "type": "URL", "data": url}, {"index": 2010, "type": "GS1", "data": key}]},
            headers=auth["owner"])
        assert r.status_code == 201, r.text
    assert get(shared_node, f"/414/9520123456788/254/D{tag}").headers["Location"] == "https://site.example/dock"
    assert get(shared_node, "/414/9520123456788/254/OTHER").headers["Location"] == "https://site.example/"
    assert get(shared_node, "/00/106141412345678915").headers["Location"] == "https://logistics.example/pallet"


def test_handles_keep_their_paths(shared_node, dl):
    """A handle path (dotted prefix) is never read as a Digital Link."""
    r = get(shared_node, f"/{ENT}/ITEM-{dl['tag']}")
    assert r.status_code == 302 and r.headers["Location"].startswith("https://brand.example.com/item/")
    r = get(shared_node, f"/{ENT}/ITEM-{dl['tag']}", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["handle"] == f"{ENT}/ITEM-{dl['tag']}"


def test_a_prefix_named_like_an_ai_keeps_its_handles(tmp_path):
    """Precedence: if this node serves a prefix named like a GS1 AI, /<that prefix>/… is a handle."""
    data = tmp_path / "data"
    idnode("init", "--data", str(data), "--prefix", "414", "--admin-secret", ADMIN_SECRET)
    node = Node(data).start()
    try:
        who = {"Authorization": basic("300:0.NA/414", ADMIN_SECRET)}
        r = requests.put(node.api("414/9520123456788"), json={"values": [
            {"index": 1, "type": "URL", "data": "https://handle.example/414"}]}, headers=who)
        assert r.status_code == 201, r.text
        r = get(node, "/414/9520123456788")
        assert r.status_code == 302 and r.headers["Location"] == "https://handle.example/414"
        # A Digital Link of another key is still one.
        assert get(node, f"/01/{GTIN[:-1]}3").status_code == 400
        assert get(node, f"/01/{GTIN}").status_code == 404
    finally:
        node.stop()


def test_answers_are_counted_as_digital_link(shared_node, dl):
    get(shared_node, dl["item"])
    r = requests.get(shared_node.url + "/metrics")
    if r.status_code == 404:
        pytest.skip("metrics are not enabled on this node")
    assert 'operation="digital_link"' in r.text


def test_how_a_record_carries_its_links():
    from protocol.digitallink import levels, link_type, record_links

    links = record_links("88.101.5/X", [
        ("URL", "https://a.example/x"), ("EMAIL", "x@example.com"), ("gs1:pip", "ftp://a.example/x"),
        ("https://ref.gs1.org/voc/recallStatus", "https://a.example/recall"),
        ("gs1:epil", '{"href": "https://a.example/leaflet", "type": "no media type", "hreflang": "de"}'),
        ("gs1:defaultLink", '{"href": "https://a.example/d", "title": "Start", "hreflang": ["en"]}')])
    assert [(x.rel, x.href, x.title) for x in links] == [
        ("defaultLink", "https://a.example/d", "Start"), ("recallStatus", "https://a.example/recall",
                                                         "recallStatus of 88.101.5/X"),
        ("epil", "https://a.example/leaflet", "epil of 88.101.5/X")]
    assert links[0].hreflang == [] and links[2].hreflang == ["de"] and links[2].type is None
    assert link_type("gs1:pip") == link_type("https://gs1.org/voc/pip") == "pip" and link_type("pip") is None
    g = "https://id.gs1.org/01/09506000134352"
    assert levels(g + "/10/L/21/S") == [g + "/10/L/21/S", g + "/21/S", g + "/10/L", g]


@pytest.fixture(scope="module")
def many(shared_node, auth) -> str:
    """A product whose pip links differ by context and media type, and two instruction links no
    request can tell apart."""
    gtin = "09506000164908"
    tag = uuid.uuid4().hex[:8].upper()

    def link(href, **kw):
        return json.dumps({"href": href, **kw})

    values = [
        {"index": 1, "type": "URL", "data": "https://brand.example.com/default"},
        {"index": 2, "type": "gs1:pip", "data": link("https://brand.example.com/pip.html", type="text/html",
                                                       hreflang=["en"])},
        {"index": 3, "type": "gs1:pip", "data": link("https://brand.example.com/pip.pdf", type="application/pdf",
                                                       hreflang=["en"])},
        {"index": 4, "type": "gs1:pip", "data": link("https://brand.example.com/pip/clinician", hreflang=["en"],
                                                       type="text/html", context=["clinician", "nurse"])},
        {"index": 5, "type": "gs1:instructions", "data": link("https://brand.example.com/howto/1", hreflang=["en"])},
        {"index": 6, "type": "gs1:instructions", "data": link("https://brand.example.com/howto/2", hreflang=["en"])},
        {"index": 2010, "type": "GS1", "data": gtin}]
    r = requests.put(shared_node.api(f"{ENT}/MANY-{tag}"), json={"values": values}, headers=auth["owner"])
    assert r.status_code == 201, r.text
    return f"/01/{gtin}"


def test_accept_and_context_pick_among_links_of_one_type(shared_node, many):
    """SHOULD support Accept-Language and MAY support Accept and the context keyword in the query string
    to disambiguate between multiple links of the same linkType (as the suite asks: lang, mediaType, context)."""
    pip = many + "?linkType=gs1:pip"
    r = get(shared_node, pip, headers={"Accept": "application/pdf", "Accept-Language": "en"})
    assert r.status_code == 307 and r.headers["Location"] == "https://brand.example.com/pip.pdf"
    r = get(shared_node, pip, headers={"Accept": "text/html,*/*;q=0.8"})
    assert r.headers["Location"] == "https://brand.example.com/pip.html"
    r = get(shared_node, pip + "&context=clinician", headers={"Accept": "text/html"})
    assert r.status_code == 307 and r.headers["Location"] == "https://brand.example.com/pip/clinician"
    r = get(shared_node, pip + "&context=nurse", headers={"Accept": "text/html"})  # one of its contexts
    assert r.status_code == 307 and r.headers["Location"] == "https://brand.example.com/pip/clinician"
    # Nothing asked for: the first; a context no link has: ignored. context is not passed on.
    assert get(shared_node, pip).headers["Location"] == "https://brand.example.com/pip.html"
    assert get(shared_node, pip + "&context=vet").headers["Location"] == "https://brand.example.com/pip.html"


def test_links_nothing_tells_apart_answer_300_with_the_list(shared_node, many):
    """Where it is impossible to determine which of multiple links of the same link type is the best
    match, the resolver should return the list of the available links of that type (300)."""
    r = get(shared_node, many + "?linkType=gs1:instructions", headers={"Accept-Language": "en"})
    assert r.status_code == 300 and r.headers["Content-Type"].startswith(LINKSET)
    hrefs = [x["href"] for x in r.json()["linkset"][0]["https://gs1.org/voc/instructions"]]
    assert hrefs == ["https://brand.example.com/howto/1", "https://brand.example.com/howto/2"]
    assert 'rel="linkset"' in r.headers["Link"] and r.headers["Access-Control-Allow-Origin"] == "*"


def test_default_link_has_no_optional_attributes_and_is_one(shared_node, many):
    """SHALL recognise one available link as the default; it SHALL NOT have any optional attributes."""
    body = get(shared_node, many, headers={"Accept": LINKSET}).json()
    (default,) = body["linkset"][0]["https://gs1.org/voc/defaultLink"]
    assert set(default) == {"href", "title"}
    for links in body["linkset"][0].values():
        for link in links if isinstance(links, list) else []:
            assert "type" not in link or "/" in link["type"]  # a media type, type/subtype


def test_the_resolver_over_https(fresh_data, tmp_path, auth):
    """SHALL support HTTP Over TLS (HTTPS): redirects, linksets and the description file."""
    from tests.nodes import free_port
    from tests.test_https import _self_signed

    cert, key = _self_signed(tmp_path)
    port = free_port()
    node = Node(fresh_data, "--https", f"127.0.0.1:{port}", "--tls-cert", str(cert), "--tls-key", str(key)).start()
    try:
        base = f"https://127.0.0.1:{port}"
        r = requests.put(node.api(f"{ENT}/TLS-DL"), headers=auth["owner"], json={"values": [
            {"index": 1, "type": "URL", "data": "https://brand.example.com/tls"},
            {"index": 2010, "type": "GS1", "data": GTIN}]})
        assert r.status_code == 201, r.text
        r = requests.get(f"{base}/01/{GTIN}/21/X", verify=str(cert), allow_redirects=False)
        assert r.status_code == 307 and r.headers["Location"] == "https://brand.example.com/tls"
        assert f'<{base}/01/{GTIN}/21/X?linkType=linkset>; rel="linkset"' in r.headers["Link"]
        r = requests.get(f"{base}/ARFKk4XBoA", verify=str(cert), allow_redirects=False)  # compressed /01/{GTIN}
        assert r.status_code == 307 and f'<{base}/01/{GTIN}>; rel="owl:sameAs"' in r.headers["Link"]
        d = requests.get(f"{base}/.well-known/gs1resolver", verify=str(cert)).json()
        assert d["resolverRoot"] == base
    finally:
        node.stop()


def test_linksets_validate_against_gs1s_linkset_schema(shared_node, dl, many):
    """Linkset must be valid according to published JSON schema (the suite's gate for its link checks)."""
    from pathlib import Path

    import jsonschema

    schema = json.loads((Path(__file__).parent / "data" / "gs1-linkset" / "gs1-linkset-schema.json").read_text())
    for path in (f"/01/{GTIN}/10/{dl['lot']}/21/{dl['serial']}", many):
        body = get(shared_node, path, headers={"Accept": LINKSET}).json()
        jsonschema.Draft7Validator(schema).validate(body)
    r = get(shared_node, many + "?linkType=gs1:instructions", headers={"Accept-Language": "en"})
    assert r.status_code == 300
    jsonschema.Draft7Validator(schema).validate(r.json())
