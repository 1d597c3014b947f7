"""Batches in process: typed operations in (``protocol.batchjson.Batch``), a typed result per item out
(what was done, or the refusal with its kind), over a real LMDB store; no node started. The JSON
answer of ``POST /api/batch`` is the codec's (``encode_batch_result``), checked here on the same result."""

from __future__ import annotations

import asyncio

from protocol.batchjson import Batch, BatchResult, Operation, encode_batch_result
from protocol.codes import RC
from protocol.refusals import ValueMissing
from protocol.values import HandleValue
from resolver.credentials import Identity
from resolver.service import Service

ACME = Identity(300, "0.NA/88.101.5")
URL = HandleValue(1, "URL", b"https://example.com/b1")


def apply(svc: Service, *ops: Operation) -> BatchResult:
    return asyncio.run(svc.batch(Batch.of(ops), ACME))


def test_typed_operations_give_a_typed_result_per_item_with_the_refusal_kind(svc):
    first = apply(svc, Operation("create", "88.101.5/B1", [URL], None, None),
                  Operation("create", "88.101.6/B2", [URL], None, None))
    assert [(r.handle, r.result, r.rc) for r in first.results] == [
        ("88.101.5/B1", "created", RC.SUCCESS), ("88.101.6/B2", None, RC.NOT_AUTHORIZED)]
    assert (first.succeeded, first.failed) == (1, 1)
    assert svc.resolve("88.101.5/B1").values[0].timestamp > 0  # stamped with the write's time

    again = apply(svc, Operation("create", "88.101.5/B1", [URL], None, None),
                  Operation("delete", "88.101.5/B1", None, [7], None),
                  Operation("delete", "88.101.5/NONE", None, None, None))
    assert [r.result for r in again.results] == ["unchanged", None, "absent"]
    missing = again.results[1].refusal
    assert isinstance(missing, ValueMissing) and missing.rc == RC.VALUES_NOT_FOUND


def test_the_api_answer_is_encoded_from_the_result_with_each_item_status(svc):
    done = apply(svc, Operation("create", "88.101.5/B1", [URL], None, None),
                 Operation("delete", "88.101.5/B1", None, [7], None),
                 Operation("create", "88.101.6/B2", [URL], None, None))
    assert encode_batch_result(done) == {
        "responseCode": RC.SUCCESS, "total": 3, "succeeded": 1, "failed": 2, "results": [
            {"handle": "88.101.5/B1", "responseCode": RC.SUCCESS, "status": 201, "result": "created"},
            {"handle": "88.101.5/B1", "responseCode": RC.VALUES_NOT_FOUND, "status": 404,
             "message": "88.101.5/B1 has no value at index 7", "field": "index"},
            {"handle": "88.101.6/B2", "responseCode": RC.NOT_AUTHORIZED, "status": 403,
             "message": done.results[2].refusal.message}]}
