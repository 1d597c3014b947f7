"""Every operation of the node, once: HTTP, the Handle protocol and the CLI are adapters around it."""

from .batch import MAX_BATCH, BatchOps
from .cache import Resolution
from .prefixes import PrefixOps
from .templates import TemplateOps


class Service(BatchOps, PrefixOps, TemplateOps):
    """Handles, batches, prefixes and templates over one store."""


__all__ = ["MAX_BATCH", "Resolution", "Service"]
