"""The OpenAPI 3 description of the whole HTTP API, served at ``/openapi.json``."""

from __future__ import annotations

from protocol.templates import DATATYPES

from ..service import MAX_BATCH
from .openapi_console import console_paths
from .openapi_digitallink import digital_link_paths
from .openapi_events import event_paths
from .openapi_reports import report_paths
from .openapi_snms import snms_paths


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    text = {400: "invalid request", 401: "authentication needed or failed", 403: "not permitted",
            404: "not found", 409: "already exists / conflict", 412: "the record is not at the version the "
            "If-Match / If-None-Match header names", 413: "body too large"}
    return {str(c): _json(_ref("Error"), text[c]) for c in codes}


def _param(name: str, where: str, schema: dict, description: str, required: bool = False, **kw) -> dict:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": description, **kw}


_SCAN = ("Resolve whatever a scanner read: a handle, hdl: URI or resolver URL; a GS1 Digital Link; a GS1 "
         "element string (]d2, ]C1, ]e0, ]Q3 symbology identifier, GS separators; or (01)…(21)…); a GTIN or SSCC; "
         "an EPC URN. A GS1 key finds the handle whose GS1 value carries it: the item's, else its lot's, else its "
         "product's")
_SCAN_ANSWERS = {"200": {"description": "the record as a page, or JSON on Accept: application/json"},
                 "302": {"description": "to the handle's URL value"},
                 **_errors(400, 404)}

HANDLE = _param("handle", "path", {"type": "string", "pattern": "^[^/]+/.*$"},
                "prefix/suffix, e.g. 88.101.5/SN-2024-000042", required=True)
PREFIX = _param("prefix", "path", {"type": "string"}, "an enterprise prefix, e.g. 88.101.5", required=True)
VERSION = _param("version", "path", {"type": "string"}, "template version", required=True)
INDEX_Q = _param("index", "query", {"type": "array", "items": {"type": "string"}}, "value indexes (repeatable)",
                 style="form", explode=True)
TYPE_Q = _param("type", "query", {"type": "array", "items": {"type": "string"}},
                "value types (repeatable; 'URL.' matches subtypes)", style="form", explode=True)

SCHEMAS = {
    "Error": {"type": "object", "required": ["responseCode", "message"], "properties": {
        "responseCode": {"type": "integer", "description": "Handle System response code"},
        "handle": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}},
    "Data": {"oneOf": [{"type": "string"}, {"type": "object", "required": ["value"], "properties": {
        "format": {"type": "string", "enum": ["string", "base64", "hex", "admin", "vlist", "site", "key"]},
        "value": {}}}]},
    "Value": {"type": "object", "required": ["index", "type", "data"], "properties": {
        "index": {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 2147483647}, {"type": "string"}]},
        "type": {"type": "string", "maxLength": 255}, "data": _ref("Data"),
        "ttl": {"type": "integer", "minimum": 0, "maximum": 4294967295},
        "timestamp": {"type": "string", "format": "date-time"},
        "permissions": {"type": "string", "pattern": "^[01]{4}$"},
        "references": {"type": "array", "items": {"type": "object"}}}},
    "Record": {"type": "object", "required": ["responseCode", "handle", "values"], "properties": {
        "responseCode": {"type": "integer"}, "handle": {"type": "string"},
        "values": {"type": "array", "items": _ref("Value")}}},
    "Values": {"oneOf": [
        {"type": "object", "required": ["values"], "properties": {
            "values": {"type": "array", "maxItems": 1000, "items": _ref("Value")}}},
        {"type": "array", "maxItems": 1000, "items": _ref("Value")}, _ref("Value")]},
    "Ack": {"type": "object", "required": ["responseCode"], "properties": {
        "responseCode": {"type": "integer"}, "handle": {"type": "string"}}},
    "Listing": {"type": "object", "properties": {
        "responseCode": {"type": "integer"}, "prefix": {"type": "string"}, "totalCount": {"type": "string"},
        "page": {"type": "integer"}, "pageSize": {"type": "integer"},
        "handles": {"type": "array", "items": {"type": "string"}}}},
    "Operation": {"type": "object", "required": ["handle"], "properties": {
        "op": {"type": "string", "enum": ["create", "put", "update", "delete"], "default": "create"},
        "handle": {"type": "string"}, "values": {"type": "array", "items": _ref("Value")},
        "indexes": {"type": "array", "items": {"type": "integer"}},
        "template": {"type": "string", "description": "template version; sets the TEMPLATE value at 1001"}}},
    "Batch": {"oneOf": [
        {"type": "object", "required": ["operations"], "properties": {
            "operations": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": _ref("Operation")}}},
        {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": _ref("Operation")}]},
    "BatchResult": {"type": "object", "properties": {
        "responseCode": {"type": "integer"}, "total": {"type": "integer"}, "succeeded": {"type": "integer"},
        "failed": {"type": "integer"}, "results": {"type": "array", "items": {"type": "object", "properties": {
            "handle": {"type": "string", "nullable": True,
                       "description": "the item's handle; null when the item gave none that is a string"},
            "responseCode": {"type": "integer"}, "status": {"type": "integer"},
            "result": {"type": "string", "enum": ["created", "replaced", "updated", "unchanged", "deleted", "absent"]},
            "message": {"type": "string"}, "field": {"type": "string"}}}}}},
    "Owner": {"type": "object", "additionalProperties": False, "properties": {
        k: {"type": "string", "maxLength": 1024} for k in
        ("name", "contact", "email", "phone", "address", "organizationCode", "industry", "note")}},
    "PrefixRequest": {"type": "object", "properties": {
        "prefix": {"type": "string", "description": "omit to take the next free number"},
        "owner": _ref("Owner"), "secret": {"type": "string", "minLength": 8,
                                            "description": "omit to have one made and returned once"},
        "quota": _ref("Quota")}},
    "Quota": {"type": "object", "additionalProperties": False, "description":
              "limits of an enterprise prefix, each absent or null for none: requests a UTC day to its handles "
              "(over it: RC 603, HTTP 429), handles it holds (RC 604, HTTP 403), prefixes under it (RC 605, HTTP 403)",
              "properties": {k: {"type": "integer", "minimum": 0, "nullable": True}
                             for k in ("dailyRequests", "handles", "prefixes")}},
    "Prefix": {"type": "object", "properties": {
        "prefix": {"type": "string"}, "kind": {"type": "string", "enum": ["node", "enterprise"]},
        "state": {"type": "string", "enum": ["enabled", "disabled"]}, "owner": _ref("Owner"),
        "admin": {"type": "string", "example": "300:0.NA/88.101.5"}, "handles": {"type": "integer"},
        "created": {"type": "integer"}, "updated": {"type": "integer"}, "secret": {"type": "string"},
        "quota": _ref("Quota"), "usage": {"type": "object", "description": "what counts against each quota",
                                          "properties": {k: {"type": "integer"} for k in
                                                         ("dailyRequests", "handles", "prefixes")}}}},
    "Field": {"type": "object", "required": ["name", "index"], "properties": {
        "name": {"type": "string"}, "type": {"type": "string", "description": "the value type; default: name"},
        "index": {"type": "integer", "minimum": 2000}, "required": {"type": "boolean"},
        "constraints": {"type": "object", "properties": {
            "datatype": {"type": "string", "enum": list(DATATYPES)}, "minLength": {"type": "integer"},
            "maxLength": {"type": "integer"}, "pattern": {"type": "string"}, "minimum": {"type": "number"},
            "maximum": {"type": "number"}, "enum": {"type": "array", "items": {"type": "string"}}}}}},
    "AuditEntry": {"type": "object", "required": ["seq", "time", "op", "result"], "properties": {
        "seq": {"type": "integer", "description": "position in the trail"},
        "time": {"type": "string", "format": "date-time"},
        "protocol": {"type": "string", "nullable": True, "enum": [
            "http", "https", "http-handle", "https-handle", "udp", "tcp", "cli", "internal", None]},
        "client": {"type": "string", "nullable": True, "description": "the client's address"},
        "identity": {"type": "string", "nullable": True,
                     "description": "index:handle, as claimed (see authenticated); null when anonymous"},
        "authenticated": {"type": "boolean"},
        "op": {"type": "string", "description": "put_handle, delete_handle, batch, allocate_prefix, set_prefix_state, "
                                                "delete_prefix, rotate_secret, set_public_trace, put_template, delete_template, capture, "
                                                "capture_job; resolve or list for a failed authentication; dropped "
                                                "for a count of refusals not recorded one by one"},
        "target": {"type": "string", "nullable": True, "description": "the handle or prefix acted on"},
        "result": {"type": "string", "enum": ["allowed", "denied", "partial"]},
        "rc": {"type": "integer", "description": "Handle System response code"},
        "message": {"type": "string"}, "outcome": {"type": "string"},
        "prefixes": {"type": "array", "items": {"type": "string"}},
        "succeeded": {"type": "integer"}, "failed": {"type": "integer"},
        "failures": {"type": "array", "items": {"type": "object"}},
        "dropped": {"type": "integer"}}},
    "AuditPage": {"type": "object", "required": ["responseCode", "entries"], "properties": {
        "responseCode": {"type": "integer"}, "entries": {"type": "array", "items": _ref("AuditEntry")},
        "nextCursor": {"type": "string", "description": "pass as cursor for the next page; absent at the end"}}},
    "TokenRequest": {"type": "object", "required": ["identity", "secret"], "properties": {
        "identity": {"type": "string", "example": "300:0.NA/88.101.5"}, "secret": {"type": "string"}}},
    "Token": {"type": "object", "required": ["responseCode", "token", "expires"], "properties": {
        "responseCode": {"type": "integer"}, "token": {"type": "string"},
        "tokenType": {"type": "string", "enum": ["Bearer"]}, "identity": {"type": "string"},
        "expires": {"type": "string", "format": "date-time"}, "expiresIn": {"type": "integer"}}},
    "Template": {"type": "object", "required": ["prefix", "version", "fields"], "properties": {
        "prefix": {"type": "string"}, "version": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,32}$"},
        "name": {"type": "string"}, "industry": {"type": "string"}, "description": {"type": "string"},
        "fields": {"type": "array", "minItems": 1, "items": _ref("Field")}}},
}


def _op(summary: str, responses: dict, *, params: list | None = None, body: dict | None = None,
        auth: bool = False, tags: list[str] | None = None) -> dict:
    op: dict = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if auth:
        op["security"] = [{"handleBasic": []}, {"bearer": []}]
    if tags:
        op["tags"] = tags
    return op


def document(version: str) -> dict:
    ok_ack = _json(_ref("Ack"), "done")
    paths = {
        "/api/handles": {"get": _op("List the handles under a prefix (its admins only)", {
            "200": _json(_ref("Listing"), "a page of handles"), **_errors(400, 401, 403)}, params=[
            _param("prefix", "query", {"type": "string"}, "the prefix", required=True),
            _param("page", "query", {"type": "integer", "minimum": 0}, "page number from 0"),
            _param("pageSize", "query", {"type": "integer", "minimum": 1, "maximum": 10000}, "handles per page")],
            auth=True, tags=["handles"])},
        "/api/handles/{handle}": {
            "get": _op("Resolve a handle", {"200": _json(_ref("Record"), "the record (responseCode 200: no value "
                                                                            "matched the filters)"),
                                             **_errors(400, 401, 404)},
                       params=[HANDLE, INDEX_Q, TYPE_Q], tags=["handles"]),
            "put": _op("Create or replace a handle; with index=, add or replace those values", {
                "200": ok_ack, "201": _json(_ref("Ack"), "created"), **_errors(400, 401, 403, 404, 409, 412, 413)},
                params=[HANDLE, INDEX_Q,
                        _param("overwrite", "query", {"type": "boolean", "default": True}, "replace if present"),
                        _param("mintNewSuffix", "query", {"type": "boolean"}, "PREFIX/: make a new unique suffix"),
                        _param("If-Match", "header", {"type": "string"}, "write only if the record is at this "
                               "version (the ETag a GET answered), or exists (*)"),
                        _param("If-None-Match", "header", {"type": "string"}, "*: create only, never replace")],
                body=_ref("Values"), auth=True, tags=["handles"]),
            "delete": _op("Delete a handle, or with index= some of its values", {
                "200": ok_ack, **_errors(400, 401, 403, 404)}, params=[HANDLE, INDEX_Q], auth=True,
                tags=["handles"]),
        },
        "/api/batch": {"post": _op(f"Up to {MAX_BATCH} operations in one durable commit, a result each", {
            "200": _json(_ref("BatchResult"), "a result per operation"), **_errors(400, 401, 413)},
            body=_ref("Batch"), auth=True, tags=["handles"])},
        "/api/federation": {"get": _op("The upstream outbox and each top-level node's health (node admin)", {
            "200": _json({"type": "object", "properties": {
                "role": {"type": "string", "enum": ["secondary", "top"]},
                "configured": {"type": "boolean"}, "identity": {"type": "string", "nullable": True},
                "outbox": {"type": "object", "properties": {"entries": {"type": "integer"},
                                                            "oldestAge": {"type": "number", "nullable": True}}},
                "upstreams": {"type": "array", "items": {"type": "object"}},
                "remote": {"type": "object"}}}, "status"), **_errors(401, 403)}, auth=True, tags=["federation"])},
        "/api/replication/changes": {"get": _op("Change-log entries after a sequence, for mirrors (node admin)", {
            "200": {"description": "msgpack list of [sequence, op, key, payload, who, time]; header "
                                   "X-Idnode-Last-Sequence", "content": {"application/x-msgpack": {}}},
            **_errors(400, 401, 403), "410": _json(_ref("Error"), "the changes after `after` were pruned: re-seed "
                                                                   "from a snapshot")}, params=[
                {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
                {"name": "wait", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 30},
                 "description": "seconds to wait for a change when none is there yet"},
                {"name": "mirror", "in": "query", "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
                 "description": "the asking mirror's name: it has applied every change up to `after`, and the "
                                "change log is kept for it until it has the rest"}],
            auth=True, tags=["replication"])},
        "/api/replication/snapshot": {"get": _op("A consistent, compacted LMDB copy (node admin)", {
            "200": {"description": "data.mdb; header X-Idnode-Sha256", "content": {"application/octet-stream": {}}},
            **_errors(401, 403)}, auth=True, tags=["replication"])},
        "/api/replication/status": {"get": _op("Role, last sequence, and a mirror's lag (node admin)", {
            "200": _json({"type": "object"}, "status"), **_errors(401, 403)}, auth=True, tags=["replication"])},
        "/api/replication/promote": {"post": _op("Make a mirror a node of its own (node admin)", {
            "200": _json({"type": "object"}, "promoted"), **_errors(401, 403, 409)}, auth=True,
            tags=["replication"])},
        "/api/prefixes": {
            "get": _op("List prefixes (node admin: all; an enterprise admin: its own)", {
                "200": _json({"type": "object", "properties": {"prefixes": {"type": "array",
                                                                            "items": _ref("Prefix")}}}, "prefixes"),
                **_errors(401)}, auth=True, tags=["prefixes"]),
            "post": _op("Allocate an enterprise prefix under the node's prefix (node admin)", {
                "201": _json(_ref("Prefix"), "allocated; the made secret is shown once"),
                **_errors(400, 401, 403, 409)}, body=_ref("PrefixRequest"), auth=True, tags=["prefixes"])},
        "/api/prefixes/{prefix}": {
            "get": _op("Read a prefix", {"200": _json(_ref("Prefix"), "the prefix"), **_errors(401, 403, 404)},
                       params=[PREFIX], auth=True, tags=["prefixes"]),
            "delete": _op("Delete an empty prefix (node admin)", {"200": ok_ack, **_errors(401, 403, 404, 409)},
                          params=[PREFIX], auth=True, tags=["prefixes"])},
        "/api/prefixes/{prefix}/disable": {"post": _op("Disable a prefix: its handles resolve, nothing is written", {
            "200": _json(_ref("Prefix"), "disabled"), **_errors(401, 403, 404)}, params=[PREFIX], auth=True,
            tags=["prefixes"])},
        "/api/prefixes/{prefix}/enable": {"post": _op("Enable a prefix again", {
            "200": _json(_ref("Prefix"), "enabled"), **_errors(401, 403, 404)}, params=[PREFIX], auth=True,
            tags=["prefixes"])},
        "/api/prefixes/{prefix}/quota": {"put": _op("Set an enterprise prefix's quota (node admin)", {
            "200": _json(_ref("Prefix"), "the prefix with its new quota"), **_errors(400, 401, 403, 404)},
            params=[PREFIX], body=_ref("Quota"), auth=True, tags=["prefixes"])},
        "/api/prefixes/{prefix}/secret": {"post": _op("Change the prefix admin's secret (node admin or owner)", {
            "200": _json(_ref("Prefix"), "changed; a made secret is shown once"), **_errors(400, 401, 403, 404)},
            params=[PREFIX], auth=True, tags=["prefixes"])},
        "/api/prefixes/{prefix}/public-trace": {"put": _op(
            "Which business steps of the enterprise's own events anonymous traces show (node admin or owner)", {
                "200": _json(_ref("Prefix"), "set"), **_errors(400, 401, 403, 404)}, params=[PREFIX], auth=True,
            body={"type": "object", "required": ["bizSteps"], "properties": {"bizSteps": {
                "type": "array", "nullable": True, "maxItems": 100,
                "items": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": "CBV business steps shown; null shows them all (the default)"}}},
            tags=["prefixes"])},
        "/api/templates": {
            "get": _op("List templates", {"200": _json({"type": "object"}, "templates")},
                       params=[_param("prefix", "query", {"type": "string"}, "only this prefix's")],
                       tags=["templates"]),
            "post": _op("Publish a template version (node admin, or the prefix's admin)", {
                "200": _json(_ref("Template"), "the same version was already published"),
                "201": _json(_ref("Template"), "published"), **_errors(400, 401, 403, 409)},
                body=_ref("Template"), auth=True, tags=["templates"])},
        "/api/templates/{prefix}/{version}": {
            "get": _op("Read a template", {"200": _json(_ref("Template"), "the template"), **_errors(404)},
                       params=[PREFIX, VERSION], tags=["templates"]),
            "delete": _op("Delete a template version", {"200": ok_ack, **_errors(401, 403, 404)},
                          params=[PREFIX, VERSION], auth=True, tags=["templates"])},
        "/api/audit": {"get": _op(
            "The audit trail (node admin): every change and every refused attempt, oldest first", {
                "200": _json(_ref("AuditPage"), "a page of entries"), **_errors(400, 401, 403)}, params=[
                _param("since", "query", {"type": "string"}, "from this time: ISO 8601 or seconds since the epoch"),
                _param("until", "query", {"type": "string"}, "before this time"),
                _param("identity", "query", {"type": "string"}, "index:handle of the caller"),
                _param("handle", "query", {"type": "string"}, "about this handle (and batches on its prefix)"),
                _param("prefix", "query", {"type": "string"}, "about handles and prefixes under this prefix"),
                _param("result", "query", {"type": "string", "enum": ["allowed", "denied"]},
                       "a partial batch matches both"),
                _param("op", "query", {"type": "string"}, "the operation"),
                _param("client", "query", {"type": "string"}, "the client's address"),
                _param("cursor", "query", {"type": "string"}, "nextCursor of the previous page"),
                _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                       "entries per page"),
                _param("order", "query", {"type": "string", "enum": ["asc", "desc"], "default": "asc"},
                       "oldest or newest first")],
            auth=True, tags=["operations"])},
        "/api/token": {
            "post": _op("A bearer token for the identity whose secret is given (HTTP Basic, or the body); it "
                        "works wherever Basic does until it expires (token_lifetime, 15 min by default)", {
                            "201": _json(_ref("Token"), "issued"), **_errors(400, 401, 403)},
                        auth=True, tags=["authentication"]) | {"requestBody": {"required": False, "content": {
                            "application/json": {"schema": _ref("TokenRequest")}}}},
            "delete": _op("Revoke the bearer token sent in the Authorization header", {
                "200": _json({"type": "object", "properties": {"responseCode": {"type": "integer"},
                                                               "revoked": {"type": "boolean"}}}, "revoked"),
                **_errors(401)}, tags=["authentication"]) | {"security": [{"bearer": []}]}},
        "/api/tokens": {
            "delete": _op("Revoke every bearer token of an identity (node admin)", {
                "200": _json({"type": "object", "properties": {"responseCode": {"type": "integer"},
                                                               "identity": {"type": "string"},
                                                               "revoked": {"type": "integer"}}}, "revoked"),
                **_errors(400, 401, 403)},
                params=[_param("identity", "query", {"type": "string"}, "index:handle, e.g. 300:0.NA/88.101.5",
                               required=True)], auth=True, tags=["authentication"])},
        "/api/lockouts": {
            "delete": _op("Clear the lock-out of an identity or a client address in every worker (node admin)", {
                "200": _json({"type": "object", "properties": {"responseCode": {"type": "integer"},
                                                               "identity": {"type": "string"},
                                                               "address": {"type": "string"},
                                                               "cleared": {"type": "boolean"}}}, "cleared"),
                **_errors(400, 401, 403)},
                params=[_param("identity", "query", {"type": "string"}, "index:handle, e.g. 300:0.NA/88.101.5"),
                        _param("address", "query", {"type": "string"}, "a client IP address, e.g. 192.0.2.7")],
                auth=True, tags=["authentication"])},
        "/scan": {"get": _op(_SCAN, _SCAN_ANSWERS,
                             params=[_param("code", "query", {"type": "string"}, "the scanned text (a GS separator "
                                            "as %1D)", required=True)], tags=["scanners"]),
                  "post": _op(_SCAN + "; the body is the scanner's raw bytes (UTF-8, GS separators as they come)",
                              {**_SCAN_ANSWERS, **_errors(413)}, tags=["scanners"]) | {"requestBody": {
                                  "required": True, "content": {"application/octet-stream": {"schema": {
                                      "type": "string", "format": "binary", "maxLength": 16384}},
                                      "text/plain": {"schema": {"type": "string", "maxLength": 16384}}}}}},
        "/{handle}": {"get": _op("Proxy-style resolution: 302 to the URL value, a page, or JSON", {
            "200": {"description": "a page (?noredirect, or no URL value) or JSON"},
            "302": {"description": "to the handle's URL value"}, **_errors(400, 404)},
            params=[HANDLE, _param("noredirect", "query", {"type": "string"}, "show the page")],
            tags=["scanners"])},
        "/": {"post": _op("A Handle protocol message (RFC 3651) over HTTP, for clients that cannot reach port 2641", {
            "200": {"description": "the answer message",
                    "content": {"application/x-hdl-message": {"schema": {"type": "string", "format": "binary"}}}},
            "400": {"description": "not a Handle request"},
            "404": {"description": "this node does not speak the Handle protocol over HTTP"},
            "413": {"description": "message too large"}, "415": {"description": "not application/x-hdl-message"}},
            tags=["handle protocol"]) | {"requestBody": {"required": True, "content": {
                "application/x-hdl-message": {"schema": {"type": "string", "format": "binary"}}}}}},
        "/healthz": {"get": _op("Alive; the body names the pid of the worker that answered",
                                {"200": {"description": "serving"}}, tags=["operations"])},
        "/readyz": {"get": _op("Ready for traffic: storage open and readable, not draining",
                               {"200": {"description": "ready"},
                                "503": {"description": "storage unavailable, or draining"}}, tags=["operations"])},
        "/metrics": {"get": _op("Prometheus metrics (text exposition format 0.0.4), summed over every worker",
                                {"200": {"description": "metrics", "content": {"text/plain": {
                                    "schema": {"type": "string"}}}}}, tags=["operations"])},
        "/openapi.json": {"get": _op("This document", {"200": {"description": "OpenAPI 3"}}, tags=["operations"])},
    }
    paths.update(event_paths())
    paths.update(snms_paths())
    paths.update(digital_link_paths())
    for path, ops in console_paths().items():  # "/" already has the Handle protocol's POST
        paths.setdefault(path, {}).update(ops)
    paths.update(report_paths())
    return {
        "openapi": "3.0.3",
        "info": {"title": "idnode", "version": version,
                 "description": "Industrial identifier resolution node: Handle.Net REST-compatible handle API, "
                                "batches, enterprise prefixes, data templates and scanner resolution."},
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": {"handleBasic": {
            "type": "http", "scheme": "basic",
            "description": "user: the identity index:handle percent-encoded (300%3A0.NA/88.101.5); password: "
                           "its secret. Over plain HTTP only from loopback."},
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "a token from POST /api/token (or the SNMS-compatible POST /identity/token), "
                                      "accepted wherever Basic is"}}},
    }
