"""Data templates in process: a typed ``PublishTemplate`` / ``ReviseTemplate`` in, the stored template
out, over a real LMDB store; no node started."""

from __future__ import annotations

import asyncio

import pytest

from protocol.codes import RC, HandleError
from protocol.template_requests import PublishedTemplate, PublishTemplate, ReviseTemplate, decode_publish
from resolver.credentials import Identity

ACME = Identity(300, "0.NA/88.101.5")
OTHER = Identity(300, "0.NA/88.101.6")
FIELDS = [{"name": "serial", "type": "SERIAL", "index": 2000, "required": True}]


def test_a_typed_template_is_published_once_then_revised_and_other_enterprises_may_not(svc):
    async def story():
        first = await svc.put_template(PublishTemplate("88.101.5", {"version": "1.0", "fields": FIELDS}), ACME)
        again = await svc.put_template(decode_publish({"prefix": "88.101.5", "version": "1.0", "fields": FIELDS}), ACME)
        with pytest.raises(HandleError) as other:
            await svc.put_template(PublishTemplate("88.101.5", {"version": "2.0", "fields": FIELDS}), OTHER)
        more = [*FIELDS, {"name": "batch", "type": "BATCH", "index": 2001}]
        revised = await svc.revise_template(ReviseTemplate.replacing("88.101.5", "1.0", {"version": "1.0",
                                                                                         "fields": more}), ACME)
        return first, again, other.value, revised

    first, again, other, revised = asyncio.run(story())
    assert isinstance(first, PublishedTemplate) and first.created and not again.created
    assert first.template["prefix"] == "88.101.5" and first.template["createdBy"] == str(ACME)
    assert other.rc == RC.NOT_AUTHORIZED
    assert [f["name"] for f in revised["fields"]] == ["serial", "batch"]
    assert [f["name"] for f in svc.get_template("88.101.5", "1.0")["fields"]] == ["serial", "batch"]


@pytest.mark.parametrize(("request_", "field", "message"), [
    (PublishTemplate(None, {"version": "1.0", "fields": FIELDS}), "prefix", "template needs a 'prefix'"),
    (PublishTemplate("88.101.5", {"version": "1.0", "fields": []}), "fields", "non-empty list of fields"),
    (decode_publish(["not", "an", "object"]), "template", "template must be an object"),
])
def test_a_bad_request_is_refused_naming_its_part_and_nothing_is_stored(svc, request_, field, message):
    with pytest.raises(HandleError) as bad:
        asyncio.run(svc.put_template(request_, ACME))
    assert bad.value.rc == RC.INVALID_VALUE and bad.value.field == field and message in bad.value.message
    assert svc.list_templates("88.101.5") == []
