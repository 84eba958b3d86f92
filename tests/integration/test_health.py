"""/readyz against a real broker and a real ledger: it goes 503, with the reason, when the broker
connection is cut or the ledger cannot be written, and back to 200 by itself when they return;
/healthz answers all along."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hub.service import Hub
from tests.integration.conftest import HubFactory
from tests.integration.tcp_proxy import TcpProxy
from tests.integration.waiting import until
from tests.ledger_files import locked, unwritable

WITHIN_S = 15.0


async def readyz(http: httpx.AsyncClient) -> httpx.Response:
    return await http.get("/readyz")


async def until_ready(http: httpx.AsyncClient) -> httpx.Response:
    return await until(lambda: readyz(http), lambda a: a.status_code == 200, WITHIN_S)


async def until_unready(http: httpx.AsyncClient, reason: str) -> httpx.Response:
    answer = await until(lambda: readyz(http), lambda a: a.status_code == 503, WITHIN_S)
    assert reason in answer.text, answer.text
    return answer


def client_of(hub: Hub) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{hub.http_port}", timeout=10)


@pytest.fixture
async def proxy(amqp_url: str) -> AsyncIterator[TcpProxy]:
    async with TcpProxy(amqp_url) as running:
        yield running


async def test_readyz_goes_down_while_the_broker_is_cut_off_and_comes_back(
    hub_factory: HubFactory, proxy: TcpProxy
) -> None:
    hub = await hub_factory(
        amqp_url=proxy.url, http_port=0, queue_watch_interval_s=0.3, reconnect_interval_s=0.5
    )
    async with client_of(hub) as http:
        assert (await until_ready(http)).text == "ready\n"
        proxy.refusing = True
        await proxy.sever()
        down = await until_unready(http, "broker:")
        assert down.text.endswith("\n")
        as_json = await http.get("/readyz", headers={"Accept": "application/json"})
        assert as_json.status_code == 503
        assert as_json.json()["ready"] is False
        assert any(reason.startswith("broker:") for reason in as_json.json()["reasons"])
        assert (await http.get("/healthz")).status_code == 200
        metrics = (await http.get("/metrics")).text
        assert "dochub_ready 0.0" in metrics
        proxy.refusing = False
        await until_ready(http)  # reconnected, and the workers consume again


async def test_readyz_goes_down_while_the_ledger_is_unwritable_and_comes_back(
    hub_factory: HubFactory,
) -> None:
    hub = await hub_factory(http_port=0, queue_watch_interval_s=0.3)
    path = Path(hub.settings.ledger_url.removeprefix("sqlite:///"))
    async with client_of(hub) as http:
        await until_ready(http)
        with unwritable(path):
            down = await until_unready(http, "ledger:")
            assert "cannot be written" in down.text
            assert (await http.get("/healthz")).status_code == 200
        await until_ready(http)


async def test_readyz_goes_down_while_the_ledger_is_locked_and_comes_back(
    hub_factory: HubFactory,
) -> None:
    hub = await hub_factory(http_port=0, queue_watch_interval_s=0.3, ledger_busy_timeout_s=0.5)
    path = Path(hub.settings.ledger_url.removeprefix("sqlite:///"))
    async with client_of(hub) as http:
        await until_ready(http)
        async with locked(path) as release:
            down = await until_unready(http, "ledger:")
            assert "locked by another process" in down.text
            await release()
        await until_ready(http)
