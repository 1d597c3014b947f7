"""Every operation of the node, once: HTTP, the Handle protocol and the CLI are adapters around it."""

from .audit import AuditOps
from .batch import MAX_BATCH, BatchOps
from .cache import Resolution
from .events import EventOps
from .federation import Referral
from .prefixes import PrefixOps
from .replication import ReplicationOps
from .templates import TemplateOps
from .trace_federated import FederatedTraceOps


class Service(BatchOps, PrefixOps, TemplateOps, EventOps, FederatedTraceOps, ReplicationOps, AuditOps):
    """Handles, batches, prefixes, templates, EPCIS events with their trace (across nodes), replication
    and the audit trail, over one store."""


__all__ = ["MAX_BATCH", "Referral", "Resolution", "Service"]
