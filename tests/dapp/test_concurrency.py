"""The dApp behind a threaded server: first requests that arrive together."""

import threading

import pytest
from web3 import Web3

from openkwh.dapp import chain


@pytest.fixture
def cold(app):
    """The dApp as just started: no node connection and no contract built yet."""
    chain.forget_connections()
    yield app
    chain.forget_connections()


def test_a_request_arriving_while_the_first_connection_is_built_gets_the_same_one(
    cold, world, monkeypatch
):
    # Found in the browser tests (a page that never became ready): two first requests
    # each built a connection to the node. A contract built on one made its calls outside
    # a batch opened on the other, and that dashboard answered 500 until a restart. Here
    # the second request arrives, deterministically, while the first builds its connection.
    got = []

    class Arriving(Web3):
        def __init__(self, *args, **kwargs):
            if not got:
                got.append(None)
                got.append(chain._web3(world.url))  # the other thread, meanwhile
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(chain, "Web3", Arriving)
    first = chain._web3(world.url)
    assert got[1] is first
    with cold.app_context():
        assert chain.contract("Wallet").w3 is chain.w3() is first


def test_first_loads_arriving_together_all_get_their_dashboard(cold, world):
    threads = 8
    start = threading.Barrier(threads)
    statuses: list[int] = []

    def load():
        client = cold.test_client()
        start.wait()
        response = client.get(f"/api/v1/accounts/{world.anna.address}/dashboard?period=day")
        statuses.append(response.status_code)

    workers = [threading.Thread(target=load) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert statuses == [200] * threads
    later = cold.test_client().get(f"/api/v1/accounts/{world.ben.address}/dashboard")
    assert later.status_code == 200
