"""The OpenAPI description of the web console's pages (resolver/http/console): HTML for a browser, listed
so that the document names every route the node serves. Signed-in pages need the session cookie a
sign-in sets; every POST needs its form's CSRF token."""

from __future__ import annotations

_HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}
_PAGE = {"200": {"description": "the page", **_HTML},
         "303": {"description": "to /console/signin: no session, or it ended (sign-out, expiry, the secret "
                                "rotated, the prefix disabled)"},
         "403": {"description": "refused: the service's own refusal, or a form without its CSRF token", **_HTML}}
_POST = {**_PAGE, "303": {"description": "done: on to the next page, or to /console/signin"},
         "400": {"description": "the form's values refused, with the reason", **_HTML},
         "411": {"description": "a form sent without Content-Length", **_HTML},
         "413": {"description": "a form larger than its limit", **_HTML}}


def _path(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": description}


_PREFIX = _path("prefix", "the enterprise's prefix")
_FORM = {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "properties": {"csrf": {"type": "string"}}, "required": ["csrf"]}}}}


def _get(summary: str, params: list | None = None) -> dict:
    return {"get": {"summary": summary, "tags": ["console"], "parameters": params or [], "responses": _PAGE}}


def _post(summary: str, params: list | None = None, body: dict | None = None) -> dict:
    return {"post": {"summary": summary, "tags": ["console"], "parameters": params or [], "responses": _POST,
                     "requestBody": body or _FORM}}


def console_paths() -> dict:
    return {
        "/": {"get": {"summary": "To the console: 302 to /console/", "tags": ["console"],
                      "responses": {"302": {"description": "to /console/"}}}},
        "/console": {"get": {"summary": "302 to /console/", "tags": ["console"],
                             "responses": {"302": {"description": "to /console/"}}}},
        "/console/": _get("The console: on to the signed-in identity's first page"),
        "/console/signin": {**_get("The sign-in form"), **_post(
            "Sign in with an identity (index:handle) and its secret, as HTTP Basic would; sets the session cookie",
            body={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
                "type": "object", "required": ["csrf", "identity", "secret"], "properties": {
                    "csrf": {"type": "string"}, "identity": {"type": "string"}, "secret": {"type": "string"}}}}}})},
        "/console/signout": _post("Sign out: the session's token is revoked"),
        "/console/p/{prefix}/handles": _get("An enterprise's identifiers (?q= searches, ?page=)", [_PREFIX]),
        "/console/p/{prefix}/register": {**_get("Register one: the form a data template makes (?template=)",
                                                [_PREFIX]),
                                         **_post("Register one from the form", [_PREFIX])},
        "/console/h/{handle}": _get("A record as its administrator reads it", [_path("handle", "the handle")]),
        "/console/delete": _post("Delete an identifier (form field handle)"),
        "/console/trace": _get("An item's trace (?id=)"),
        "/console/p/{prefix}/templates": {**_get("The prefix's data templates", [_PREFIX]),
                                          **_post("Create or revise a data template", [_PREFIX])},
        "/console/p/{prefix}/templates/new": _get("The form for a new data template", [_PREFIX]),
        "/console/p/{prefix}/templates/{version}": _get("The form that edits a data template", [
            _PREFIX, _path("version", "the template's version")]),
        "/console/p/{prefix}/batch": {**_get("The batch upload form", [_PREFIX]), **_post(
            "Register the rows of a CSV file or an .xlsx workbook's first sheet; the page streams its progress and ends with the refused rows",
            [_PREFIX], {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["csrf", "template", "file"], "properties": {
                    "csrf": {"type": "string"}, "template": {"type": "string"},
                    "file": {"type": "string", "format": "binary"}}}}}})},
        "/console/p/{prefix}/export": {"get": {
            "summary": "The prefix's identifiers as CSV (handle, URL, template, the templates' fields), streamed, "
                       "5000 a request (?part=0, 1, …)", "tags": ["console"], "parameters": [_PREFIX, {
                           "name": "part", "in": "query", "schema": {"type": "integer", "minimum": 0}}],
            "responses": {**_PAGE, "200": {"description": "the CSV file", "content": {
                "text/csv": {"schema": {"type": "string"}}}}}}},
        "/console/p/{prefix}/stats": _get("The prefix's statistics as charts (?days=7…30)", [_PREFIX, {
            "name": "days", "in": "query", "schema": {"type": "integer"}}]),
        "/console/signin/key": {**_get("Sign in with a key: the form and a fresh challenge (stateless, short-lived)"),
                                **_post("Sign in with a key: the identity and the challenge signed in the browser "
                                        "(RSASSA-PKCS1-v1_5, SHA-256); the same session as a secret sign-in")},
        "/console/static/keysignin.js": {"get": {
            "summary": "The key sign-in page's script (WebCrypto signing; the key never leaves the browser)",
            "tags": ["console"], "responses": {"200": {"description": "the script", "content": {
                "text/javascript": {"schema": {"type": "string"}}}}}}},
        "/console/e/{handle}": {**_get("The form that edits a registered identifier through its template",
                                       [_path("handle", "the handle")]),
                                **_post("Save the edit (If-Match on the version the form was made from)",
                                        [_path("handle", "the handle")])},
        "/console/p/{prefix}/owner": {**_get("The prefix's owner details and logo", [_PREFIX]),
                                      **_post("Change the owner details", [_PREFIX])},
        "/console/p/{prefix}/logo": _post("Upload the logo (PNG, JPEG or WebP; at most 512 KiB, 4096 px a side)",
                                          [_PREFIX], {"required": True, "content": {"multipart/form-data": {
                                              "schema": {"type": "object", "properties": {
                                                  "csrf": {"type": "string"},
                                                  "logo": {"type": "string", "format": "binary"}}}}}}),
        "/console/logo/{prefix}": {"get": {"summary": "An enterprise's logo as the node keeps it (PNG)",
                                           "tags": ["console"], "parameters": [_PREFIX], "responses": {
                                               "200": {"description": "the logo", "content": {
                                                   "image/png": {"schema": {"type": "string", "format": "binary"}}}},
                                               "404": {"description": "no logo for this prefix"}}}},
        "/console/p/{prefix}/templates/{version}/retire": _post("Retire a data template version", [
            _PREFIX, _path("version", "the template's version")]),
        "/console/admin/prefixes/rotate": _post("Rotate a prefix's secret (the new one is shown once)"),
        "/console/admin/reports/send": _post("Queue the reports owed to the top-level node now (node admin)"),
        "/console/admin/status": _get("The node's status: health, federation, mirrors, the report owed upstream"),
        "/console/admin/prefixes": {**_get("The operator's prefixes"),
                                    **_post("Allocate a prefix (prefix, name, contact, email, secret)")},
        "/console/admin/prefixes/state": _post("Disable or enable a prefix (prefix, state)"),
        "/console/admin/audit": _get("The audit trail, with the filters of GET /api/audit"),
        "/console/admin/lockouts": {**_get("Clearing lock-outs"), **_post("Clear a lock-out (kind, target)")},
        "/console/admin/tokens": {**_get("Bearer tokens and console sessions"), **_post("Revoke a token (id)")},
    }
