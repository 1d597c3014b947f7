"""The OpenAPI description of the GS1 Digital Link resolver (resolver/http/digitallink.py)."""

from __future__ import annotations

from protocol.digitallink import PRIMARY_KEYS, SHORT_NAMES


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"type": "object", "properties": {
        "responseCode": {"type": "integer"}, "message": {"type": "string"}}}}}}


def digital_link_paths() -> dict:
    keys = list(PRIMARY_KEYS) + [k for k, v in SHORT_NAMES.items() if v in PRIMARY_KEYS]
    linkset = {"description": "the RFC 9264 linkset of the key and every level above it",
               "content": {"application/linkset+json": {"schema": {"type": "object", "required": ["linkset"],
                                                                   "properties": {"linkset": {"type": "array"}}}}}}
    return {
        "/{ai}/{rest}": {"get": {
            "summary": "GS1 Digital Link (GS1-Conformant resolver): 307 to the default link or ?linkType=, "
                       "or the linkset (?linkType=linkset, Accept: application/linkset+json)",
            "tags": ["scanners"],
            "parameters": [
                {"name": "ai", "in": "path", "required": True, "schema": {"type": "string", "enum": keys},
                 "description": "the primary key's AI or short name (01, 00, 414, gtin…)"},
                {"name": "rest", "in": "path", "required": True, "schema": {"type": "string"},
                 "description": "the key's value, then qualifier AIs and values (…/10/{lot}/21/{serial})"},
                {"name": "linkType", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "gs1:pip, gs1:certificationInfo…, or linkset"}],
            "responses": {"200": linkset, "307": {"description": "to the link"},
                          "300": {**linkset, "description": "links of the type that nothing in the request "
                                                            "tells apart, as a linkset: the client chooses"},
                          "400": _error("not a GS1 Digital Link URI (the reason names the problem)"),
                          "404": _error("no record carries the key, or no link of the type")}}},
        "/{compressed}": {"get": {
            "summary": "A compressed GS1 Digital Link (GS1 Digital Link: Compression), answered as its "
                       "uncompressed form, which Link: <…>; rel=\"owl:sameAs\" names",
            "tags": ["scanners"],
            "parameters": [
                {"name": "compressed", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,400}$"},
                 "description": "the compressed segment (URI-safe base64)"},
                {"name": "linkType", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "gs1:pip, gs1:certificationInfo…, or linkset"}],
            "responses": {"200": linkset, "307": {"description": "to the link"},
                          "300": {**linkset, "description": "links of the type that nothing in the request "
                                                            "tells apart, as a linkset: the client chooses"},
                          "400": _error("not a compressed GS1 Digital Link (the reason names the problem)"),
                          "404": _error("no record carries the key, or no link of the type")}}},
        "/.well-known/gs1resolver": {"get": {
            "summary": "The resolver description file", "tags": ["scanners"],
            "responses": {"200": {"description": "resolver description", "content": {"application/json": {
                "schema": {"type": "object"}}}}}}},
        "/.well-known/gs1resolver/linkset-context.jsonld": {"get": {
            "summary": "A JSON-LD context for the linkset", "tags": ["scanners"],
            "responses": {"200": {"description": "JSON-LD context", "content": {"application/ld+json": {
                "schema": {"type": "object"}}}}}}},
    }
