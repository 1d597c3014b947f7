"""Batches of up to 2,000 operations in one durable commit, a result per item, idempotent per handle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from protocol import admin as adm
from protocol.batchjson import Batch, BatchResult, ItemResult, Operation, Rejected
from protocol.codes import RC, HandleError
from protocol.handles import key, split, strip_scheme
from protocol.values import (
    TEMPLATE,
    TEMPLATE_INDEX,
    HandleValue,
    check_distinct,
    check_index,
    check_values,
    merge,
)
from storage import NOTHING_WRITTEN, Tx
from storage.records import unpack_record

from ..audit_trail import MAX_FAILURES, Attempt, mutation
from ..credentials import Identity, Seal
from .base import TxMemo
from .handles import check_secrets, hash_secret_values, plain_secrets

if TYPE_CHECKING:
    from . import Service

MAX_BATCH = 2000
OPS = ("create", "put", "update", "delete")


@dataclass(slots=True)
class Item:
    position: int
    op: str
    handle: str
    prefix: str
    suffix: str
    values: list[HandleValue] | None
    indexes: list[int] | None
    secrets: bool = False  # does ``values`` carry a secret still to hash (``plain_secrets``)


def _parse_item(position: int, o: Operation, now: int) -> Item:
    op = o.op
    if op not in OPS:
        raise HandleError(RC.INVALID_VALUE, f"op {op!r} is not one of {', '.join(OPS)}", field="op")
    handle = strip_scheme(o.handle)
    prefix, suffix = split(handle)
    indexes = o.indexes
    if indexes is not None:
        if not isinstance(indexes, list) or not indexes:
            raise HandleError(RC.INVALID_VALUE, "indexes must be a non-empty list", field="indexes")
        indexes = check_distinct([check_index(i, where="indexes") for i in indexes], where="indexes")
    values = None
    secrets = False
    if op != "delete":
        if o.values is None:
            raise HandleError(RC.INVALID_VALUE, f"op {op} needs values", field="values")
        values, secrets = check_secrets(o.values)  # stamped with ``now`` by the decoder; secrets hashed later
        template = o.template
        if template is not None:
            if not isinstance(template, str):
                raise HandleError(RC.INVALID_VALUE, "template must be a version string", field="template")
            values = check_values(merge(values, [HandleValue(TEMPLATE_INDEX, TEMPLATE, template.encode(),
                                                             timestamp=now, fmt="string")]))
            secrets = secrets and plain_secrets(values)  # the template may have replaced one
    return Item(position, op, handle, prefix, suffix, values, indexes, secrets)


def _summary(results: list[ItemResult | None], prefixes: list[str]):
    """How a batch reads in the audit trail: allowed, denied, or partial, with its counts and its first
    refused items (the change log holds every item that was written)."""

    def summarize(inside: object) -> tuple[str, dict]:
        done = [r for r in results if r is not None]
        if isinstance(inside, list):
            done += [r for _, r in inside]
        failures = [r for r in done if r.refusal is not None]
        ok = len(done) - len(failures)
        verdict = "allowed" if not failures else "denied" if not ok else "partial"
        extra = {"prefixes": prefixes, "succeeded": ok, "failed": len(failures)}
        if failures:
            first = failures[0]
            extra["message"] = f"{len(failures)} of {len(done)} refused; first {first.handle}: {first.refusal.message}"
            if not ok:
                extra["rc"] = first.rc
            extra["failures"] = [{"handle": r.handle if isinstance(r.handle, str) else None,
                                  "rc": r.rc, "message": r.refusal.message[:200]}
                                 for r in failures[:MAX_FAILURES]]
        return verdict, extra

    return summarize


class _SecretsToHash(Exception):  # noqa: N818 - a hand-back, not an error
    """Raised on the writer thread by a batch that carries secrets: its parsed items go back to the
    service, which authorizes them and hashes the secrets elsewhere before writing."""

    def __init__(self, items: list[Item]):
        super().__init__("secrets to hash")
        self.items = items


def _hash_items(values: list[list[HandleValue]], seal: Seal | None) -> list[list[HandleValue]]:
    return [hash_secret_values(v, seal) for v in values]


class BatchOps:
    """Batches of handle operations in one commit."""

    def __init__(self, svc: Service):
        self.svc = svc

    @mutation("batch")
    async def batch(self, att: Attempt, request: Batch, identity: Identity | None) -> BatchResult:
        """Apply a batch in one durable commit, a result per item.

        Its operations are decoded (``Batch.operations``: a transport's body, or operations already
        typed) and checked on the writer thread, just before its transaction: see storage/commit.py.
        """
        if identity is None:
            raise HandleError(RC.AUTHENTICATION_NEEDED, "authentication is needed to register handles")
        now = self.svc.now()
        results: list[ItemResult | None] = []

        def parse() -> list[Item]:
            ops = request.operations(now)
            if not ops:
                raise HandleError(RC.INVALID_VALUE, "the batch is empty", field="operations")
            if len(ops) > MAX_BATCH:
                raise HandleError(RC.INVALID_VALUE, f"{len(ops)} operations; the limit is {MAX_BATCH} per batch",
                                  field="operations")
            results.extend([None] * len(ops))
            items: list[Item] = []
            for n, o in enumerate(ops):
                if isinstance(o, Rejected):
                    results[n] = ItemResult(o.handle, refusal=o.error)
                    continue
                try:
                    items.append(_parse_item(n, o, now))
                except HandleError as e:
                    results[n] = ItemResult(o.handle, refusal=e)
            att.summarize = _summary(results, sorted({it.prefix for it in items}))
            return items

        def apply(items: list[Item]) -> Callable[[Tx], list[tuple[int, ItemResult]]] | None:
            if not items:
                return None

            def op(tx: Tx) -> list[tuple[int, ItemResult]]:
                out = []
                memo = TxMemo()
                admit = self.svc.quotas.admit_prefix
                for it in items:
                    try:
                        admit(it.prefix, refresh=False)  # RC 603, per item
                        out.append((it.position, ItemResult(it.handle, self._apply_item(tx, identity, it, now, memo))))
                    except HandleError as e:
                        out.append((it.position, ItemResult(it.handle, refusal=e)))
                return out

            return op

        def prepare() -> Callable[[Tx], list[tuple[int, ItemResult]]] | None:
            items = parse()
            if any(it.secrets for it in items):
                raise _SecretsToHash(items)  # not on the writer thread, which every tenant's writes wait for
            return apply(items)

        # The weight (about how many items) keeps one large batch to a group of its own.
        weight = request.weight
        try:
            done = await self.svc.write(prepare=prepare, weight=weight, attempt=att)
        except _SecretsToHash as e:
            items = await self._hash_batch_secrets(e.items, identity, results)
            done = await self.svc.write(prepare=lambda: apply(items), weight=weight, attempt=att)
        if done is not NOTHING_WRITTEN:
            for position, res in done:
                results[position] = res
        answered = tuple(r for r in results if r is not None)
        assert len(answered) == len(results), "every item has its result"
        return BatchResult(answered)

    async def _hash_batch_secrets(self, items: list[Item], identity: Identity, results: list[ItemResult | None]) -> list[Item]:
        """The items still to write, their secrets hashed: only those of items ``identity`` may write
        (checked in a read transaction, then again in the write's own), in the hash pool."""
        keep: list[Item] = []
        to_hash: list[Item] = []
        with self.svc.store.read() as tx:
            memo = TxMemo()
            for it in items:
                if not it.secrets:
                    keep.append(it)
                    continue
                try:
                    self.svc.check_writable(tx, it.prefix, it.suffix, memo)
                    self.svc.handles.authorize_put(tx, identity, it.handle, it.prefix, it.suffix, tx.get_handle(it.handle),
                                        it.values, partial=it.op == "update", memo=memo)
                except HandleError as e:
                    results[it.position] = ItemResult(it.handle, refusal=e)
                    continue
                to_hash.append(it)
        if to_hash:
            hashed = await self.svc.hash_pool.run(_hash_items, [it.values for it in to_hash], self.svc.seal, keys=(str(identity),))
            for it, values in zip(to_hash, hashed, strict=True):
                it.values, it.secrets = values, False
            keep += to_hash
        keep.sort(key=lambda it: it.position)
        return keep

    def _apply_item(self, tx: Tx, identity: Identity, it: Item, now: int, memo: TxMemo) -> str:
        k = key(it.handle)
        raw = tx.get_raw(k)
        old = unpack_record(raw) if raw is not None else None
        if it.op == "delete":
            if old is None:
                self.svc.check_writable(tx, it.prefix, it.suffix, memo)
                self.svc.authorize(tx, identity, it.prefix, it.suffix, None, adm.DELETE_HANDLE, f"delete {it.handle}",
                               memo)
                return "absent"  # already gone: a re-sent delete succeeds
            return self.svc.handles.apply_delete(tx, identity, it.handle, it.prefix, it.suffix, old, it.indexes, now, memo)
        return self.svc.handles.apply_put(tx, identity, it.handle, it.prefix, it.suffix, old, it.values, now,
                               overwrite=it.op != "create", partial=it.op == "update", same_if_exists=True,
                               memo=memo, k=k)



