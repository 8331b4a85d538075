from collections.abc import Iterator

import pytest

from tests.support.edge import ChatClient, Edge, running_edge


@pytest.fixture(scope="module")
def edge(tmp_path_factory) -> Iterator[Edge]:
    with running_edge(tmp_path_factory.mktemp("edge") / "data") as e:
        yield e


@pytest.fixture
def connect(edge):
    """connect(nick) -> a signed-in ChatClient listening on its chat/in."""
    clients: list[ChatClient] = []

    def make(nick: str = "user", *, rooms: tuple[str, ...] = ()) -> ChatClient:
        creds = edge.credentials(nick)
        client = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
        assert client.connect() == 0
        client.subscribe(f"chat/in/{client.client_id}", *(f"chat/pub/{r}" for r in rooms))
        clients.append(client)
        welcome = client.request({"type": "hello", "nick": nick}, "welcome")
        assert welcome["type"] == "welcome"
        return client

    yield make
    for c in clients:
        c.close()
