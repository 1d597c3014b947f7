"""The standard's EPCIS 2.0 JSON Schema: the copy shipped in resolver/data/epcis/, or a configured path.

Capture validates whole documents against it; a list of events or a single event is wrapped in a
document first (``CaptureRequest.document``, protocol/capture.py), so every event is checked by the
same rules and an error's path names its position. jsonschema is the authority: a document it
accepts is accepted, and its messages are the reasons given. fastjsonschema (the same schema
compiled to Python, ~20 times faster) answers first, so a valid document — the common case at
capture rates of thousands of events a second — is not walked by jsonschema at all; whatever
fastjsonschema refuses is judged again by jsonschema.
"""

from __future__ import annotations

import threading
from pathlib import Path

import orjson

from protocol.capture import EPCIS_CONTEXT as CONTEXT  # noqa: F401 - the name its readers use
from protocol.epcis import EventError

# Shipped as package data (pyproject.toml), so every install validates capture out of the box.
DEFAULT_SCHEMA = Path(__file__).resolve().parents[1] / "data" / "epcis" / "EPCIS-JSON-Schema.json"
MAX_REASON = 600


def default_schema_path() -> str | None:
    return str(DEFAULT_SCHEMA) if DEFAULT_SCHEMA.is_file() else None


class SchemaUnavailable(RuntimeError):
    pass


class EpcisSchema:
    """A draft-07 validator for the schema at ``path``, built on first use."""

    def __init__(self, path: str | None):
        self.path = path
        self._validator = None
        self._fast = None
        self._lock = threading.Lock()

    def validator(self):
        if self._validator is None:
            with self._lock:
                if self._validator is None:
                    if not self.path:
                        raise SchemaUnavailable("EPCIS capture is unavailable: no schema configured "
                                                "(set epcis_schema / IDNODE_EPCIS_SCHEMA to EPCIS-JSON-Schema.json)")
                    try:
                        schema = orjson.loads(Path(self.path).read_bytes())
                    except (OSError, orjson.JSONDecodeError) as e:
                        raise SchemaUnavailable(f"EPCIS capture is unavailable: cannot read the schema "
                                                f"{self.path}: {e}") from None
                    from jsonschema import Draft7Validator

                    try:
                        import fastjsonschema

                        self._fast = fastjsonschema.compile(schema, use_formats=False)
                    except Exception:  # an older fastjsonschema, or a schema it cannot compile: jsonschema alone
                        self._fast = None
                    self._validator = Draft7Validator(schema)
        return self._validator

    def _quick_accept(self, doc: dict) -> bool:
        if self._fast is None:
            return False
        try:
            self._fast(doc)
            return True
        except Exception:  # JsonSchemaException, or anything else: let jsonschema judge
            return False

    def errors(self, doc: dict, limit: int = 20) -> list[EventError]:
        """Schema errors of a document, the most relevant first per event, at most ``limit``."""
        from jsonschema.exceptions import best_match

        v = self.validator()
        if self._quick_accept(doc) or v.is_valid(doc):
            return []
        by_position: dict[int | None, list] = {}
        for err in v.iter_errors(doc):
            by_position.setdefault(_position(err), []).append(err)
        out = []
        for pos in sorted(by_position, key=lambda p: -1 if p is None else p)[:limit]:
            err = best_match(by_position[pos])
            path = "/".join(str(p) for p in err.absolute_path)
            reason = err.message if len(err.message) <= MAX_REASON else err.message[:MAX_REASON] + "…"
            out.append(EventError(f"schema: {reason}", pos, path or None))
        return out


def _position(err) -> int | None:
    p = list(err.absolute_path)
    if len(p) >= 3 and p[0] == "epcisBody" and p[1] == "eventList" and isinstance(p[2], int):
        return p[2]
    if len(p) >= 2 and p[0] == "epcisBody" and p[1] == "event":
        return 0
    return None

