"""The Sync component: the edge's store-and-forward link to the cloud (docs/sync.md)."""
