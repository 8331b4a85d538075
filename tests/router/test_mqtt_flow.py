"""LeanClient's flow control, with a stand-in transport (no broker): reading
pauses while too many requests wait and resumes once they are taken."""

import asyncio

from edgechat.router import wire
from edgechat.router.mqtt import LeanClient


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.paused = False
        self.written = bytearray()

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def get_extra_info(self, name, default=None):
        return default

    def is_closing(self) -> bool:
        return False

    def write(self, data) -> None:
        self.written += data


def test_reading_pauses_above_twice_the_receive_maximum_and_resumes_when_drained():
    async def scenario() -> None:
        client = LeanClient("127.0.0.1", 1, client_id="c", username="u", password="p", receive_maximum=10)
        transport = _Transport()
        client.connection_made(transport)
        flood = b"".join(wire.publish_packet("chat/out/a", b"{}", 1, mid) for mid in range(1, 31))
        client.data_received(flood)
        assert transport.paused  # 30 waiting > 2 x 10
        taken = []
        async for msg in client.messages():
            taken.append(msg.mid)
            client.ack(msg.mid, msg.qos)
            if len(taken) == 30:
                break
        assert taken == list(range(1, 31))
        assert not transport.paused
        await asyncio.sleep(0)  # the PUBACKs go out together at the end of the turn
        assert transport.written == b"".join(wire.puback_packet(mid) for mid in range(1, 31))

    asyncio.run(scenario())


def test_a_writer_waits_for_room_until_the_brokers_pubacks_come():
    async def scenario() -> None:
        client = LeanClient("127.0.0.1", 1, client_id="c", username="u", password="p", max_held=4)
        transport = _Transport()
        client.connection_made(transport)
        client._send_quota = 2  # as if the broker's CONNACK said Receive Maximum 2
        for n in range(6):
            assert client.publish("chat/pub/r", b"%d" % n)
        assert client.backlog == 4  # two in flight, four held: no room
        waiting = asyncio.ensure_future(client.room())
        await asyncio.sleep(0)
        assert not waiting.done()
        client.data_received(bytes([wire.PUBACK << 4, 2, 0, 1, wire.PUBACK << 4, 2, 0, 2]))
        await asyncio.sleep(0)
        assert waiting.done() and client.backlog == 2
        await asyncio.sleep(0)
        sent = [p.payload for p in wire.Reader().feed(bytes(transport.written))]
        assert sent == [b"0", b"1", b"2", b"3"]  # in order, two more once the broker had room

    asyncio.run(scenario())
