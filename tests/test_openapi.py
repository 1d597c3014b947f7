"""/openapi.json: a valid OpenAPI 3 document that describes every route the node serves, truthfully."""

from __future__ import annotations

import re
import uuid

import jsonschema
import pytest
import requests
from openapi_spec_validator import validate

from resolver import tunnel
from resolver.http import create_app
from resolver.service import Service
from storage import GroupCommitter, Store

METHODS = {"GET", "PUT", "POST", "DELETE", "PATCH"}


@pytest.fixture(scope="module")
def spec(shared_node) -> dict:
    r = requests.get(shared_node.url + "/openapi.json")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    return r.json()


@pytest.fixture(scope="module")
def app_routes(tmp_path_factory) -> set[tuple[str, str]]:
    """(method, path template) of every route the application factory registers."""
    store = Store(tmp_path_factory.mktemp("openapi") / "data")
    committer = GroupCommitter(store)
    try:
        app = create_app(Service(store, committer), handle_tunnel=tunnel.add_routes)  # as the node builds it
        routes = set()
        for resource in app.router.resources():
            path = re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", resource.canonical)  # {handle:.+} → {handle}
            for route in resource:
                if route.method in METHODS:
                    routes.add((route.method, path))
        return routes
    finally:
        committer.close()
        store.close()


def test_document_is_valid_openapi_3(spec):
    assert spec["openapi"].startswith("3.")
    validate(spec)  # raises on any violation of the OpenAPI 3 schema, dangling $ref included
    assert spec["info"]["title"] == "idnode" and spec["info"]["version"]


def test_every_registered_route_is_described(spec, app_routes):
    described = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops if m.upper() in METHODS}
    assert len(app_routes) > 15  # the inspection itself found the routes
    missing = sorted(app_routes - described)
    assert not missing, f"routes the app serves that /openapi.json does not describe: {missing}"
    stale = sorted(described - app_routes)
    assert not stale, f"operations described that the app does not serve: {stale}"


def test_path_parameters_are_declared(spec):
    for path, ops in spec["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        for method, op in ops.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)


def test_operations_with_credentials_say_so(spec):
    assert spec["components"]["securitySchemes"]["handleBasic"] == {
        "type": "http", "scheme": "basic", "description": spec["components"]["securitySchemes"]["handleBasic"][
            "description"]}
    for path, method in (("/api/batch", "post"), ("/api/prefixes", "post"), ("/api/handles/{handle}", "put"),
                         ("/api/templates", "post"), ("/api/handles/{handle}", "delete")):
        op = spec["paths"][path][method]
        assert op["security"] == [{"handleBasic": []}, {"bearer": []}], (method, path)  # either will do
        assert "401" in op["responses"]


def _schema(spec: dict, name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}


def test_real_answers_fit_the_described_schemas(spec, shared_node, auth):
    """A client generated from the document can read what the node really sends."""
    handle = f"88.101.5/OAS-{uuid.uuid4().hex[:8]}"
    values = [{"index": 1, "type": "URL", "data": "https://example.com/o"},
              {"index": 2, "type": "BLOB", "data": {"format": "hex", "value": "0aff"}, "ttl": 10}]
    jsonschema.validate({"values": values}, _schema(spec, "Values"))
    r = requests.put(shared_node.api(handle), json={"values": values}, headers=auth["owner"])
    assert r.status_code == 201
    jsonschema.validate(r.json(), _schema(spec, "Ack"))
    jsonschema.validate(requests.get(shared_node.api(handle)).json(), _schema(spec, "Record"))

    listing = requests.get(shared_node.url + "/api/handles", params={"prefix": "88.101.5"}, headers=auth["owner"])
    jsonschema.validate(listing.json(), _schema(spec, "Listing"))

    batch = [{"op": "put", "handle": handle, "values": values}, {"op": "delete", "handle": "88.101.5/OAS-NONE"},
             {"handle": "bad"}]
    jsonschema.validate(batch, _schema(spec, "Batch"))
    r = requests.post(shared_node.url + "/api/batch", json=batch, headers=auth["owner"])
    jsonschema.validate(r.json(), _schema(spec, "BatchResult"))

    r = requests.get(shared_node.url + "/api/prefixes/88.101.5", headers=auth["admin"])
    jsonschema.validate(r.json(), _schema(spec, "Prefix"))

    tpl = {"prefix": "88.101.5", "version": "oas-" + uuid.uuid4().hex[:6],
           "fields": [{"name": "n", "index": 2001, "constraints": {"datatype": "integer", "minimum": 0}}]}
    jsonschema.validate(tpl, _schema(spec, "Template"))
    r = requests.post(shared_node.url + "/api/templates", json=tpl, headers=auth["owner"])
    assert r.status_code == 201
    jsonschema.validate(r.json(), _schema(spec, "Template"))

    for bad in (requests.get(shared_node.api("88.101.5/OAS-NONE")),
                requests.put(shared_node.api(handle), json={"values": []})):
        assert bad.status_code >= 400
        jsonschema.validate(bad.json(), _schema(spec, "Error"))


def test_batch_limit_in_document_matches_the_node(spec):
    from resolver.service import MAX_BATCH

    batch = spec["components"]["schemas"]["Batch"]["oneOf"]
    assert batch[0]["properties"]["operations"]["maxItems"] == MAX_BATCH == 2000
    assert batch[1]["maxItems"] == MAX_BATCH
