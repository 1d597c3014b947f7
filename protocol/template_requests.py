"""Publishing and revising a data template as typed requests, and their JSON (``POST /api/templates``,
the SNMS API's template bodies, the console's form, ``idnode template add``): the service takes these
values, never a request body. What a definition must hold is ``templates.parse_template``'s check,
made by ``checked()`` when the service runs it, so that a refusal is audited as the operation's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .codes import RC, HandleError
from .handles import check_prefix
from .templates import parse_template


@dataclass(frozen=True, slots=True)
class PublishTemplate:
    """Publish a template version for ``prefix``: ``definition`` as a client gives it (its version and
    its ``fields``, or the SNMS API's ``items``)."""

    prefix: object  # as sent: checked by ``checked``
    definition: object

    @property
    def version(self) -> str | None:
        v = self.definition.get("version") if isinstance(self.definition, Mapping) else None
        return None if v is None else str(v)

    def checked(self) -> dict:
        """The template to store (``prefix`` first, then the checked definition), or a refusal naming
        the part that is wrong."""
        tpl = parse_template(dict(self.definition) if isinstance(self.definition, Mapping) else self.definition)
        if not isinstance(self.prefix, str):
            raise HandleError(RC.INVALID_VALUE, "template needs a 'prefix'", field="prefix")
        check_prefix(self.prefix)
        return {"prefix": self.prefix, **tpl}


@dataclass(frozen=True, slots=True)
class PublishedTemplate:
    """The template as stored (with who published it when), and whether this request created it (a
    version published again unchanged is not created again)."""

    template: Mapping[str, Any]
    created: bool


@dataclass(frozen=True, slots=True)
class ReviseTemplate:
    """Change template ``version`` of ``prefix`` in place: ``revise`` maps the stored template to the
    new definition (checked like a new one)."""

    prefix: str
    version: str
    revise: Callable[[dict], object]

    @classmethod
    def replacing(cls, prefix: str, version: str, definition: object) -> ReviseTemplate:
        """The stored definition replaced by ``definition`` whole."""
        return cls(prefix, version, lambda old: definition)


def decode_publish(body: object) -> PublishTemplate:
    """The JSON body of ``POST /api/templates``: ``{"prefix", "version", "fields": [...]}``."""
    return PublishTemplate(body.get("prefix") if isinstance(body, dict) else None, body)


def encode_published(done: PublishedTemplate) -> dict:
    """The answer's JSON fields (the adapter adds ``responseCode`` and chooses 201 or 200)."""
    return dict(done.template)
