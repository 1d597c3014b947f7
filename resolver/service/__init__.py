"""Every operation of the node, once: HTTP, the Handle protocol and the CLI are adapters around it."""

from .admission import AdmissionOps, Intent
from .audit import AuditOps
from .batch import MAX_BATCH, BatchOps
from .cache import Resolution
from .dated_login import DatedLoginOps
from .events import EventOps
from .federation import Referral
from .lockouts import LockoutOps
from .prefixes import PrefixOps
from .replication import ReplicationOps
from .templates import TemplateOps
from .tokens import TokenOps
from .trace_federated import FederatedTraceOps


class Service(AdmissionOps, BatchOps, PrefixOps, TemplateOps, EventOps, FederatedTraceOps, ReplicationOps, AuditOps,
              TokenOps, DatedLoginOps, LockoutOps):
    """Handles, batches, prefixes, templates, EPCIS events with their trace (across nodes), replication,
    the audit trail and bearer tokens (and the dated-digest login), and clearing lock-outs, over one store."""


__all__ = ["MAX_BATCH", "Intent", "Referral", "Resolution", "Service"]
