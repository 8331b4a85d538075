"""What only the DynamoDB store has to get right (the shared contract is in
tests/store): lost races on the room counter, and TTL's non-atomic deletes."""

from edgechat.core.clock import Hlc, order_key
from edgechat.core.protocol import Message


def message(mid: str, client: str = "c") -> Message:
    return Message(
        id=mid, room="r", text=f"text {mid}", client_id=client, nick="N", ts=1000,
        order_key=order_key(Hlc(1000, 0), "cloud", mid), site="cloud",
    )  # fmt: skip


def test_a_writer_that_read_a_stale_counter_retries_with_the_next_seq(cloud):
    store = cloud.deps.store
    store.add([message("m0000001")])
    real, reads = store._meta, []

    def stale_first(room):
        reads.append(room)
        return {} if len(reads) == 1 else real(room)  # as if another writer got in between

    store._meta = stale_first
    ((stored, created),) = store.add([message("m0000002")])
    assert (stored.seq, created, len(reads)) == (2, True, 2)
    assert [m.id for m in store.history("r")[0]] == ["m0000002", "m0000001"]


def test_a_resend_after_ttl_took_the_message_is_still_a_duplicate(cloud):
    store = cloud.deps.store
    store.add([message("m0000001", client="ann")])
    cloud.db.delete_item(TableName=cloud.table, Key={"pk": {"S": "room#r"}, "sk": {"S": "m#000000000001"}})
    ((stored, created),) = store.add([message("m0000001", client="ann")])
    assert (stored.seq, created, stored.client_id) == (1, False, "ann")
    assert store.count() == 0
