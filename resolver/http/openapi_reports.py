"""The OpenAPI description of ``/api/reports`` (a top-level node's archive of its secondaries' reports)."""

from __future__ import annotations

from ..reports.archive import KINDS

_ERR = {"description": "the error (responseCode, message, field)",
        "content": {"application/json": {"schema": {"type": "object"}}}}
_NODE = {"name": "node", "in": "path", "required": True, "schema": {"type": "string"},
         "description": "the secondary node's prefix, e.g. 88.101"}
_SEC = [{"handleBasic": []}, {"bearer": []}]


def _errors(*codes: int) -> dict:
    """Error answers; each code's description is the same on purpose (the message says which)."""
    return {str(c): _ERR for c in codes}


_ESCROW_NODE = {**_NODE, "description": "the depositing secondary node's prefix"}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9A-Za-z-]{1,64}$"}}


def escrow_paths() -> dict:
    return {
        "/api/escrow/{node}/{id}/{file}": {"put": {
            "summary": "One file of a deposit (volume-NNNN.bin, manifest.json, manifest.sig), streamed to disk; only "
                       "the secondary itself, once its SM2 key is trusted here",
            "tags": ["escrow"], "security": _SEC,
            "parameters": [_ESCROW_NODE, _ID, {"name": "file", "in": "path", "required": True,
                                               "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {
                "type": "string", "format": "binary"}}}},
            "responses": {"201": {"description": "kept"}, **_errors(400, 401, 403, 404, 411, 413)}}},
        "/api/escrow/{node}/{id}/complete": {"post": {
            "summary": "Verify, decrypt and restore the deposit whose files have arrived",
            "tags": ["escrow"], "security": _SEC, "parameters": [_ESCROW_NODE, _ID],
            "responses": {"200": {"description": "the deposit log's entry",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          **_errors(400, 401, 403, 404, 503)}}},
        "/api/escrow/{node}": {"get": {
            "summary": "The deposit log of a secondary node and its latest restored deposit",
            "tags": ["escrow"], "security": _SEC, "parameters": [_ESCROW_NODE],
            "responses": {"200": {"description": "{node, latest, deposits}",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          **_errors(401, 403, 404)}}},
    }


def report_paths() -> dict:
    kinds = sorted(KINDS)
    return {**escrow_paths(),
        "/api/prefixes/{prefix}/owner": {"put": {
            "summary": "Replace a prefix's owner details (the node admin, or the enterprise's own admin): what "
                       "the top-level node's tables 1 and 6 report",
            "tags": ["reports"], "security": _SEC,
            "parameters": [{"name": "prefix", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": {"type": "string"}}}}},
            "responses": {"200": {"description": "the prefix record",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          **_errors(400, 401, 403, 404)}}},
        "/api/reports/{node}/{kind}/{key}": {"put": {
            "summary": "A secondary node's report (only the secondary itself, 300:0.NA/<node>, may send it); "
                       "a report with the same key is replaced",
            "tags": ["reports"], "security": _SEC,
            "parameters": [_NODE,
                           {"name": "kind", "in": "path", "required": True, "schema": {"type": "string", "enum": kinds},
                            "description": "which table or event"},
                           {"name": "key", "in": "path", "required": True, "schema": {"type": "string"},
                            "description": "a date YYYY-MM-DD (daily tables), a month YYYY-MM, 'current' (tables "
                                           "sent on change) or an event number"}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {"200": {"description": "replaced"}, "201": {"description": "kept"},
                          **_errors(400, 401, 403, 404, 413)}}},
        "/api/reports/{node}": {"get": {
            "summary": "A report a secondary node sent (the top-level node's admin, or the secondary), or with no "
                       "date/month/key the list of those kept",
            "tags": ["reports"], "security": _SEC,
            "parameters": [_NODE,
                           {"name": "kind", "in": "query", "schema": {"type": "string", "enum": kinds,
                                                                      "default": "statistics"}},
                           {"name": "date", "in": "query", "schema": {"type": "string"}, "description": "YYYY-MM-DD"},
                           {"name": "month", "in": "query", "schema": {"type": "string"}, "description": "YYYY-MM"},
                           {"name": "key", "in": "query", "schema": {"type": "string"},
                            "description": "'current' or an event number"}],
            "responses": {"200": {"description": "the report as sent, with receivedAt and from; statistics: "
                                                 "{node, date, prefixes: [{prefix, registeredToday, registeredTotal, "
                                                 "resolutionsToday, resolvedToday, sources: [{ip, count}]}], "
                                                 "monitoring}",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          **_errors(400, 401, 403, 404)}}},
    }
