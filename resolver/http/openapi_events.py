"""The OpenAPI description of the EPCIS 2.0 capture and query interface and of the trace."""

from __future__ import annotations

from ..service.events import MAX_CAPTURE_EVENTS, MAX_SYNC_EVENTS


def _p(name: str, where: str, description: str, required: bool = False, schema: dict | None = None) -> dict:
    return {"name": name, "in": where, "required": required, "schema": schema or {"type": "string"},
            "description": description}


_EPCIS = {"description": "an EPCIS 2.0 document (JSON / JSON-LD), a list of events, or one event", "content": {
    t: {"schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}}
    for t in ("application/json", "application/ld+json")}}
_QUERY_DOC = {"description": "an EPCISQueryDocument (validates against the standard's schema); a further page is "
                             "linked by the Link header (rel=next) and GS1-Next-Page-Token",
              "content": {"application/ld+json": {"schema": {"type": "object"}}}}
_ERR = {"description": "the error: responseCode, message, and for rejected events errors[{reason, position, path}]",
        "content": {"application/json": {"schema": {"type": "object"}}}}
_FILTERS = [
    _p("MATCH_epc", "query", "events whose epcList or childEPCs name it (any spelling: handle, EPC URN, Digital Link)"),
    _p("MATCH_anyEPC", "query", "events naming it in any role"),
    _p("MATCH_parentID", "query", "aggregation, association, transaction parent"),
    _p("MATCH_inputEPC", "query", "transformation input"), _p("MATCH_outputEPC", "query", "transformation output"),
    _p("EQ_bizStep", "query", "CBV business step (short name or URI)"),
    _p("EQ_disposition", "query", "CBV disposition"), _p("EQ_bizLocation", "query", "business location id"),
    _p("EQ_readPoint", "query", "read point id"), _p("EQ_action", "query", "ADD, OBSERVE or DELETE"),
    _p("eventType", "query", "ObjectEvent, AggregationEvent, …"),
    _p("GE_eventTime", "query", "eventTime at or after (date-time)"), _p("LT_eventTime", "query", "eventTime before"),
    _p("perPage", "query", "events a page (1–1000, default 100)", schema={"type": "integer"}),
    _p("nextPageToken", "query", "from the previous page"),
]
_SEC = [{"handleBasic": []}]
_TRACE = {"type": "object", "required": ["identifier", "canonical", "timeline", "state", "upstream", "downstream"],
          "properties": {
              "identifier": {"type": "string"},
              "canonical": {"type": "string", "description": "the item's primary spelling: its handle where a "
                            "record carries the GS1 key asked by"},
              "aliases": {"type": "array", "items": {"type": "string"},
                          "description": "the item's other spellings (the GS1 keys its record carries), whose "
                                         "events are in the timeline too"},
              "node": {"type": "string", "nullable": True, "description": "the prefix of the node that answered"},
              "timeline": {"type": "array", "items": {"type": "object"}}, "state": {"type": "object"},
              "upstream": {"type": "array", "items": {"type": "object"}},
              "downstream": {"type": "array", "items": {"type": "object"}},
              "corrections": {"type": "array", "items": {"type": "object"}},
              "parts": {"type": "array", "items": {"type": "object"}},
              "unreachable": {"type": "array", "items": {"type": "object", "properties": {
                  "identifier": {"type": "string"}, "node": {"type": "string", "nullable": True},
                  "reason": {"type": "string"}}}},
              "cut": {"type": "array", "items": {"type": "string"}}}}


def event_paths() -> dict:
    trace_params = [_p("depth", "query", "lineage depth (≤ 8)", schema={"type": "integer"}),
                    _p("maxNodes", "query", "lineage items (≤ 2000)", schema={"type": "integer"}),
                    _p("maxEvents", "query", "timeline events (≤ 2000)", schema={"type": "integer"}),
                    _p("budget_ms", "query", "time the trace may spend asking the nodes that serve parts of its "
                       "lineage (0–10000 ms, default the node's trace_budget_ms, 2000); 0 asks no other node",
                       schema={"type": "integer", "minimum": 0, "maximum": 10000}),
                    _p("via", "query", "comma-separated prefixes of the nodes already answering this trace: "
                       "nodes pass it to one another so that none is asked twice (at most 4 take part)")]
    ident = _p("identifier", "path", "a handle, hdl: URI, resolver URL, EPC URN or GS1 Digital Link", True)
    trace_ok = {"200": {"description": "timeline (corrections applied), state, upstream and downstream lineage, "
                                       "and notes where limits cut (cut). Across nodes: entries another node "
                                       "answered carry node (its base URL); parts lists each part traced at "
                                       "another node (identifier, node, nodePrefix, relation, depth, timeline, "
                                       "state); unreachable lists those that could not be traced there "
                                       "(identifier, node, reason)",
                        "content": {"application/json": {"schema": _TRACE}}}, "400": _ERR}
    page_ok = {"200": {"description": "the item's lifecycle as a page for a phone"}, "400": _ERR}
    return {
        "/capture": {"post": {"summary": f"Capture an EPCIS document (≤ {MAX_CAPTURE_EVENTS} events) as a job",
                              "tags": ["events"], "security": _SEC, "requestBody": {"required": True, **_EPCIS},
                              "responses": {"202": {"description": "accepted; Location: /capture/{captureID}"},
                                            "400": _ERR, "401": _ERR, "403": _ERR, "413": _ERR, "415": _ERR,
                                            "503": _ERR}}},
        "/capture/{job}": {"get": {"summary": "A capture job's status: running, success, errors",
                                   "tags": ["events"], "parameters": [_p("job", "path", "captureID", True)],
                                   "responses": {"200": {"description": "the status", "content": {
                                       "application/json": {"schema": {"type": "object"}}}}, "404": _ERR}}},
        "/api/events": {"post": {"summary": f"Capture up to {MAX_SYNC_EVENTS} events and answer once they are "
                                            "durable: all stored or none", "tags": ["events"], "security": _SEC,
                                 "requestBody": {"required": True, **_EPCIS},
                                 "responses": {"201": {"description": "stored: counts and eventIDs"},
                                               "200": {"description": "all were stored before"},
                                               "400": _ERR, "401": _ERR, "403": _ERR, "413": _ERR, "415": _ERR,
                                               "503": _ERR}}},
        "/events": {"get": {"summary": "Query the events the caller may read (EPCIS 2.0 REST simple event query): "
                                       "those naming its enterprise's identifiers or captured by it; all for the "
                                       "node admin", "tags": ["events"], "security": _SEC,
                            "parameters": _FILTERS, "responses": {"200": _QUERY_DOC, "400": _ERR, "401": _ERR}}},
        "/events/{event_id}": {"get": {"summary": "One event by eventID (or its CBV hash ID), percent-encoded, if "
                                                  "the caller may read it", "security": _SEC,
                                       "tags": ["events"], "parameters": [_p("event_id", "path", "eventID", True)],
                                       "responses": {"200": _QUERY_DOC, "401": _ERR, "404": _ERR}}},
        "/epcs/{epc}/events": {"get": {"summary": "Events naming an identifier in any role, that the caller may read",
                                       "tags": ["events"], "security": _SEC,
                                       "parameters": [_p("epc", "path", "the identifier, percent-encoded", True),
                                                      *_FILTERS],
                                       "responses": {"200": _QUERY_DOC, "400": _ERR, "401": _ERR}}},
        "/api/trace": {"get": {"summary": "Trace an item given as ?id=", "tags": ["trace"],
                               "parameters": [_p("id", "query", "the identifier", True), *trace_params],
                               "responses": trace_ok}},
        "/api/trace/{identifier}": {"get": {"summary": "Trace an item: timeline, current state, lineage",
                                            "tags": ["trace"], "parameters": [ident, *trace_params],
                                            "responses": trace_ok}},
        "/trace": {"get": {"summary": "The trace page of an item given as ?id=", "tags": ["trace", "scanners"],
                           "parameters": [_p("id", "query", "the identifier", True), *trace_params],
                           "responses": page_ok}},
        "/trace/{identifier}": {"get": {"summary": "The trace page (HTML, no script), or JSON on Accept",
                                        "tags": ["trace", "scanners"], "parameters": [ident, *trace_params],
                                        "responses": page_ok}},
    }
