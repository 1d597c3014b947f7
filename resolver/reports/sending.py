"""Queueing the reports owed to the top-level node now (the console's "send", ``idnode report send``)
rather than on the node's schedule (resolver/assembly/reporting.py): the node delivers them from its outbox."""

from __future__ import annotations

import asyncio
import logging
import time

from protocol.codes import RC
from protocol.refusals import Conflict

from ..credentials import Identity
from ..service import Service
from ..service.federation import FEDERATION_META
from .due import queue_due
from .flush import FLUSH_WANTED_META, FLUSHED_META

log = logging.getLogger("idnode.reports")

FLUSH_WAIT = 3.0  # seconds to wait for a running node to flush its counts
RUNNING_IF_FLUSHED_WITHIN = 15.0  # a node that flushed this recently is taken to be running


async def queue_now(svc: Service) -> list[str]:
    node = svc.require_initialised()
    queued = await svc.write(lambda tx: queue_due(tx, node, time.time()))
    if queued:
        log.info("reports: queued %s", ", ".join(queued))
    return queued


async def request_flush(svc: Service) -> bool:
    """Ask the node serving this folder, if one is, to flush its counts now; True once it has."""
    asked = time.time()
    with svc.store.read() as tx:
        last = tx.get_meta(FLUSHED_META)
    if last is None or asked - last > RUNNING_IF_FLUSHED_WITHIN:
        return False
    await svc.write(lambda tx: tx.put_meta(FLUSH_WANTED_META, asked))
    deadline = time.monotonic() + FLUSH_WAIT
    while time.monotonic() < deadline:
        with svc.store.read() as tx:
            done = tx.get_meta(FLUSHED_META)
        if done is not None and done >= asked:
            return True
        await asyncio.sleep(0.05)
    return False


async def send_now(svc: Service, identity: Identity | None) -> list[str]:
    """Queue what is due for the top-level node now, for the node admin (the console's "send"; the
    CLI's ``idnode report send`` is the operator at a shell): the counts flushed first, then the same
    queueing the node does on its schedule; the node delivers them from its outbox."""
    svc.require_node_admin(identity, "send the reports to the top-level node")
    with svc.store.read() as tx:
        if not tx.get_meta(FEDERATION_META):
            raise Conflict(RC.OPERATION_NOT_SUPPORTED, "this node has no upstream top-level node (serve it with "
                           "--upstream and --upstream-http first)")
    await request_flush(svc)
    return await queue_now(svc)
