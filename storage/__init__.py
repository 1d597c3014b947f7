"""LMDB storage: one environment, named databases, intent-level operations, group commit."""

from .commit import NOTHING_WRITTEN, GroupCommitter
from .env import Store
from .records import Record
from .space import StoreFull, WriteFailed
from .txn import Tx

__all__ = ["NOTHING_WRITTEN", "GroupCommitter", "Record", "Store", "StoreFull", "Tx", "WriteFailed"]
