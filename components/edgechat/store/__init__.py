"""The Store component: durable message storage behind one interface."""

from edgechat.store.base import MessageStore, StoreError, SyncStore
from edgechat.store.memory import MemoryStore
from edgechat.store.sqlite import SqliteStore

__all__ = ["MemoryStore", "MessageStore", "SqliteStore", "StoreError", "SyncStore"]
