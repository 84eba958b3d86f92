"""The broker side of a new user's first hour: a wrong broker URL, a broker that refuses, one that
is down, and one that accepts TCP and never answers (RabbitMQ out of file handles) each end in one
clear line, within the connect timeout, from the library and from the ``dochub`` commands; the
hub honours SIGTERM whatever it is waiting for; and a message with an unknown routing key reaches
the dead-letter queue instead of vanishing."""

import asyncio
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest
from aiormq.exceptions import ChannelNotFoundEntity

from agency_client import (
    AccessRefused,
    AgencyClient,
    AgencyClientError,
    BrokerUnavailable,
    InvalidSettings,
)
from dochub.exit_codes import ExitCode
from hub.errors import BrokerError, BrokerRefused, ConfigurationError
from hub.management import ManagementClient, vhost_of
from hub.provisioning import CredentialsStore, apply, make_plan
from hub.registry import Registry
from hub.service import Hub
from hub.settings import HubSettings
from hub.topology import QueuePolicy, Topology
from schemas import AgencyDirectory, Names
from tests.factories import HUB_KEY
from tests.integration.broker_users import management_url_for, remove_users, require_management
from tests.integration.conftest import BrokerProbe, FakeAgency, HubFactory
from tests.integration.tcp_proxy import SilentServer, TcpProxy
from tests.integration.test_cli import (
    RECIPIENT,
    SENDER,
    Cli,
    Running,
    delete_namespace,
    document_flags,
    make_keys,
    write_directory,
)
from tests.integration.waiting import settled_totals

CONNECT_TIMEOUT_S = 2.0
"""The connect timeout these tests set, so that a silent broker is given up on quickly."""
BOUND_S = CONNECT_TIMEOUT_S + 8.0
"""How long a failure to connect may take at most: the timeout, plus slack for a busy machine."""
STOP_BOUND_S = 15.0
"""How long a signalled ``dochub`` may take to exit."""


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"amqp://guest:guest@127.0.0.1:{port}/"


def with_vhost(amqp_url: str, vhost: str) -> str:
    return urlunsplit(urlsplit(amqp_url)._replace(path=f"/{vhost}"))


def with_password(amqp_url: str, password: str) -> str:
    parts = urlsplit(amqp_url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or 'guest'}:{password}@{host}"))


def client_on(agency: FakeAgency, directory: AgencyDirectory, url: str, ns: str) -> AgencyClient:
    return AgencyClient(
        agency.id,
        agency.key,
        directory,
        amqp_url=url,
        namespace=ns,
        connect_timeout_s=CONNECT_TIMEOUT_S,
    )


async def connect_fails(client: AgencyClient) -> AgencyClientError:
    """The client's connect raises an ``AgencyClientError`` within ``BOUND_S``."""
    try:
        async with asyncio.timeout(BOUND_S):
            await client.connect()
    except AgencyClientError as exc:
        return exc
    except TimeoutError:
        pytest.fail(f"connect() still waiting after {BOUND_S}s")
    pytest.fail("connect() succeeded")


def one_clear_line(message: str) -> None:
    assert "\n" not in message
    assert "object at 0x" not in message, message
    assert "Traceback" not in message


# The library: AgencyClient


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("notaurl", "is not an AMQP URL"),
        ("amqp://guest:guest@127.0.0.1:abc/", "has no valid port"),
        ("http://127.0.0.1:5672/", "is not an AMQP URL"),
    ],
)
def test_the_client_refuses_a_bad_broker_url_before_connecting(
    agencies: list[FakeAgency], directory: AgencyDirectory, url: str, phrase: str
) -> None:
    with pytest.raises(InvalidSettings, match=phrase) as raised:
        client_on(agencies[0], directory, url, "dochub")
    assert not isinstance(raised.value, ValueError)
    assert raised.value.agency_id == agencies[0].id
    one_clear_line(str(raised.value))


def test_the_client_refuses_a_connect_timeout_of_zero(
    agencies: list[FakeAgency], directory: AgencyDirectory
) -> None:
    with pytest.raises(InvalidSettings, match="connect_timeout_s"):
        AgencyClient(agencies[0].id, agencies[0].key, directory, connect_timeout_s=0)


async def test_a_broker_that_never_answers_is_given_up_on_within_the_connect_timeout(
    agencies: list[FakeAgency], directory: AgencyDirectory, namespace: str
) -> None:
    async with SilentServer() as silent:
        client = client_on(agencies[0], directory, silent.url(), namespace)
        started = time.monotonic()
        error = await connect_fails(client)
        waited = time.monotonic() - started
        assert silent.accepted == 1, "the TCP connection was made: the handshake is what hangs"
    assert isinstance(error, BrokerUnavailable)
    assert f"did not complete the connection within {CONNECT_TIMEOUT_S:g} s" in str(error)
    assert "out of file handles" in str(error)
    assert "guest:guest" not in str(error)
    assert waited >= CONNECT_TIMEOUT_S * 0.9, "it waited for the timeout it was given"
    one_clear_line(str(error))


async def test_each_way_the_broker_refuses_or_is_away_has_its_error(
    agencies: list[FakeAgency], directory: AgencyDirectory, amqp_url: str, namespace: str
) -> None:
    cases = [
        (with_vhost(amqp_url, f"t-nope-{uuid.uuid4().hex[:8]}"), AccessRefused, "virtual host"),
        (with_password(amqp_url, "wrong-password"), AccessRefused, "refused the login of user"),
        (closed_port_url(), BrokerUnavailable, "connection refused"),
        ("amqp://guest:guest@nonexistent.invalid:5672/", BrokerUnavailable, "not found"),
    ]
    for url, kind, phrase in cases:
        error = await connect_fails(client_on(agencies[0], directory, url, namespace))
        assert isinstance(error, kind), (url, error)
        assert phrase in str(error), (url, error)
        assert "wrong-password" not in str(error)
        one_clear_line(str(error))


async def test_a_client_cancelled_while_connecting_leaves_no_connection_behind(
    agencies: list[FakeAgency], directory: AgencyDirectory, namespace: str
) -> None:
    async with SilentServer() as silent:
        client = AgencyClient(
            agencies[0].id,
            agencies[0].key,
            directory,
            amqp_url=silent.url(),
            namespace=namespace,
            connect_timeout_s=60,
        )
        connecting = asyncio.create_task(client.connect())
        await asyncio.wait_for(silent.first_connection(), BOUND_S)
        connecting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(connecting, BOUND_S)
        await asyncio.sleep(0.5)
        assert silent.accepted == 1, "no reconnection attempt goes on in the background"
    assert not [
        task for task in asyncio.all_tasks() if "connection_factory" in repr(task.get_coro())
    ]


# The library: Hub


def hub_on(hub_settings: HubSettings, directory: AgencyDirectory, **overrides: object) -> Hub:
    settings = hub_settings.model_copy(update={"connect_timeout_s": CONNECT_TIMEOUT_S, **overrides})
    return Hub(settings, Registry(directory), HUB_KEY)


def test_the_hub_refuses_a_bad_broker_url_as_a_configuration_error(
    hub_settings: HubSettings, directory: AgencyDirectory
) -> None:
    with pytest.raises(ConfigurationError, match="is not an AMQP URL") as raised:
        hub_on(hub_settings, directory, amqp_url="http://guest:guest@127.0.0.1:5672/")
    assert "DOCHUB_AMQP_URL" in str(raised.value)
    assert "guest:guest" not in str(raised.value)


async def test_the_hub_gives_up_on_a_silent_broker_and_leaves_nothing_open(
    hub_settings: HubSettings, directory: AgencyDirectory
) -> None:
    async with SilentServer() as silent:
        hub = hub_on(hub_settings, directory, amqp_url=silent.url())
        with pytest.raises(BrokerError, match="did not complete the connection") as raised:
            async with asyncio.timeout(BOUND_S):
                await hub.start()
    assert not isinstance(raised.value, BrokerRefused)
    one_clear_line(str(raised.value))
    with pytest.raises(RuntimeError, match="has not started"):
        _ = hub.ledger  # closed again


async def test_the_hub_tells_a_refusal_from_an_absence(
    hub_settings: HubSettings, directory: AgencyDirectory, amqp_url: str
) -> None:
    refused = hub_on(hub_settings, directory, amqp_url=with_password(amqp_url, "wrong-password"))
    with pytest.raises(BrokerRefused, match="refused the login of user"):
        await asyncio.wait_for(refused.start(), BOUND_S)
    away = hub_on(hub_settings, directory, amqp_url=closed_port_url())
    with pytest.raises(BrokerError, match="connection refused") as raised:
        await asyncio.wait_for(away.start(), BOUND_S)
    assert not isinstance(raised.value, BrokerRefused)


async def test_a_stop_while_the_hub_connects_ends_the_start_at_once(
    hub_settings: HubSettings, directory: AgencyDirectory
) -> None:
    async with SilentServer() as silent:
        hub = hub_on(hub_settings, directory, amqp_url=silent.url(), connect_timeout_s=60)
        stop = asyncio.Event()
        serving = asyncio.create_task(hub.serve(stop))
        await asyncio.wait_for(silent.first_connection(), BOUND_S)
        stop.set()
        await asyncio.wait_for(serving, BOUND_S)  # not the 60 s of the timeout
    with pytest.raises(RuntimeError, match="has not started"):
        _ = hub.ledger


# Unknown routing keys


async def test_an_unknown_routing_key_on_the_ingress_is_dead_lettered_as_unknown_kind(
    hub: Hub, probe: BrokerProbe
) -> None:
    await probe.publish_ingress(b'{"not": "a document"}', routing_key="documents")
    dead = await probe.get(hub.names.dead_letter_queue)
    assert dead.headers["x-dochub-reason"] == "unknown_kind"
    assert dead.headers["x-dochub-kind"] == "documents"
    assert dead.body == b'{"not": "a document"}'
    totals = await settled_totals(hub, lambda t: t.rejected == 1)
    assert totals.rejected_by_reason == {"unknown_kind": 1}


async def test_an_agency_user_may_publish_an_unknown_key_and_it_reaches_the_ingress_queue(
    amqp_url: str, tmp_path: Path
) -> None:
    """The alternate exchange needs no permission of the agency's user beyond the ingress."""
    names = Names(f"t-{uuid.uuid4().hex[:12]}")
    agency = "000.00.00.G12"
    management_url = management_url_for(amqp_url)
    await require_management(management_url)
    topology = Topology(names, QueuePolicy())
    admin = await aio_pika.connect(amqp_url, timeout=BOUND_S)
    try:
        await topology.declare(await admin.channel(), [agency])
        store = CredentialsStore(tmp_path / "credentials", amqp_url)
        async with ManagementClient(management_url) as management:
            existing = [user.name for user in await management.list_users()]
            plan = make_plan(names, [agency], existing, vhost=vhost_of(amqp_url))
            await apply(plan, management, store)
        password = store.password(names.agency_user(agency))
        assert password is not None
        as_agency = await aio_pika.connect(
            store.url_for(names.agency_user(agency), password), timeout=BOUND_S
        )
        async with as_agency:
            channel = await as_agency.channel(publisher_confirms=True, on_return_raises=True)
            ingress = await channel.get_exchange(names.ingress_exchange, ensure=False)
            await asyncio.wait_for(
                ingress.publish(
                    aio_pika.Message(b"{}", user_id=names.agency_user(agency)),
                    "no-such-kind",
                    mandatory=True,
                ),
                BOUND_S,
            )
        queue = await (await admin.channel()).declare_queue(names.ingress_queue, passive=True)
        assert queue.declaration_result.message_count == 1
    finally:
        try:
            await remove_users(management_url, names)
        finally:
            async with admin:
                await topology.delete(await admin.channel(), [agency])


async def test_topology_delete_removes_the_alternate_exchange_too(
    amqp_url: str, namespace: str
) -> None:
    names = Names(namespace)
    topology = Topology(names, QueuePolicy())
    connection = await aio_pika.connect(amqp_url, timeout=BOUND_S)
    async with connection:
        try:
            await topology.declare(await connection.channel(), ["000.00.00.G12"])
        finally:
            await topology.delete(await connection.channel(), ["000.00.00.G12"])
        with pytest.raises(ChannelNotFoundEntity):
            await (await connection.channel()).declare_exchange(
                names.unrouted_exchange, passive=True
            )


async def test_a_namespace_declared_by_an_older_hub_is_refused_with_how_to_fix_it(
    hub_factory: HubFactory, probe: BrokerProbe, namespace: str
) -> None:
    """Before the alternate exchange, the ingress exchange had no arguments; an exchange's
    arguments cannot change, so the namespace must be deleted first."""
    await probe.channel.declare_exchange(
        Names(namespace).ingress_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    with pytest.raises(BrokerRefused) as raised:
        await asyncio.wait_for(hub_factory(), BOUND_S)
    message = str(raised.value)
    assert "alternate-exchange" in message
    assert f"dochub namespace delete {namespace}" in message
    one_clear_line(message)


# The command line


@pytest.fixture
async def cli(amqp_url: str, tmp_path: Path) -> AsyncIterator[Cli]:
    namespace = f"t-{uuid.uuid4().hex[:12]}"
    runner = Cli(amqp_url, namespace, tmp_path)
    runner.env["DOCHUB_CONNECT_TIMEOUT_S"] = str(CONNECT_TIMEOUT_S)
    make_keys(tmp_path, SENDER, RECIPIENT)
    write_directory(tmp_path / "agencies.toml", [SENDER, RECIPIENT])
    try:
        yield runner
    finally:
        for running in runner.started:
            await running.kill()
        await asyncio.wait_for(delete_namespace(amqp_url, namespace), BOUND_S)


def hub_args(cli: Cli, *extra: str) -> list[str]:
    return [
        "hub", "run", "--registry", str(cli.cwd / "agencies.toml"),
        "--hub-key", str(cli.cwd / "keys" / "hub.key"),
        "--ledger-url", f"sqlite:///{cli.cwd / 'dochub.db'}", "--log-format", "json", *extra,
    ]  # fmt: skip


def send_args(cli: Cli, *extra: str) -> list[str]:
    return [
        "agency", "send", "--agency-id", SENDER, "--key", str(cli.cwd / "keys" / f"{SENDER}.key"),
        "--registry", str(cli.cwd / "agencies.toml"), "--wait-timeout", "5",
        *document_flags([RECIPIENT], "125"), *extra,
    ]  # fmt: skip


def fails_with(running: Running, code: int, phrase: str) -> None:
    """Exit ``code``, ``phrase`` on stderr, no traceback, nothing on stdout."""
    assert running.returncode == code, running.describe()
    assert phrase in running.stderr, running.describe()
    assert "Traceback" not in running.stderr, running.describe()
    assert "object at 0x" not in running.stderr, running.describe()
    assert running.stdout == "", running.describe()


BAD_URLS = [
    ("notaurl", "is not an AMQP URL"),
    ("amqp://guest:guest@127.0.0.1:abc/", "has no valid port"),
    ("http://127.0.0.1:5672/", "is not an AMQP URL"),
]


BAD_URL_EXIT = ExitCode.USAGE
"""The commands check the URL with the other settings, before anything runs: a usage mistake,
named by its flag or its variable."""


@pytest.mark.parametrize(("url", "phrase"), BAD_URLS)
async def test_hub_run_with_a_bad_url_exits_at_once(cli: Cli, url: str, phrase: str) -> None:
    running = await cli.run(*hub_args(cli, "--amqp-url", url), within_s=BOUND_S)
    fails_with(running, BAD_URL_EXIT, phrase)
    assert "--amqp-url" in running.stderr
    cli.env["DOCHUB_AMQP_URL"] = url
    running = await cli.run(*hub_args(cli), within_s=BOUND_S)
    fails_with(running, BAD_URL_EXIT, phrase)
    assert "DOCHUB_AMQP_URL" in running.stderr


@pytest.mark.parametrize(("url", "phrase"), BAD_URLS)
async def test_agency_send_with_a_bad_url_exits_at_once(cli: Cli, url: str, phrase: str) -> None:
    running = await cli.run(*send_args(cli, "--amqp-url", url), within_s=BOUND_S)
    fails_with(running, BAD_URL_EXIT, phrase)
    assert "--amqp-url" in running.stderr


async def test_hub_run_and_agency_send_against_a_silent_broker_exit_unavailable(cli: Cli) -> None:
    async with SilentServer() as silent:
        hub = await cli.run(*hub_args(cli, "--amqp-url", silent.url()), within_s=BOUND_S)
        send = await cli.run(*send_args(cli, "--amqp-url", silent.url()), within_s=BOUND_S)
    for running in (hub, send):
        fails_with(
            running,
            ExitCode.BROKER_UNAVAILABLE,
            f"did not complete the connection within {CONNECT_TIMEOUT_S:g} s",
        )


async def test_hub_run_and_agency_send_with_the_broker_down_exit_unavailable(cli: Cli) -> None:
    url = closed_port_url()
    hub = await cli.run(*hub_args(cli, "--amqp-url", url), within_s=BOUND_S)
    send = await cli.run(*send_args(cli, "--amqp-url", url), within_s=BOUND_S)
    for running in (hub, send):
        fails_with(running, ExitCode.BROKER_UNAVAILABLE, "connection refused")


async def test_a_wrong_password_or_an_unknown_vhost_exits_refused(cli: Cli, amqp_url: str) -> None:
    cases = [
        (with_password(amqp_url, "wrong-password"), "refused the login of user"),
        (with_vhost(amqp_url, f"t-nope-{uuid.uuid4().hex[:8]}"), "refused virtual host"),
    ]
    for url, phrase in cases:
        hub = await cli.run(*hub_args(cli, "--amqp-url", url), within_s=BOUND_S)
        send = await cli.run(*send_args(cli, "--amqp-url", url), within_s=BOUND_S)
        for running in (hub, send):
            fails_with(running, ExitCode.REFUSED, phrase)
            assert "wrong-password" not in running.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_hub_run_stops_on_a_signal_while_a_silent_broker_keeps_it_waiting(
    cli: Cli, sig: signal.Signals
) -> None:
    cli.env["DOCHUB_CONNECT_TIMEOUT_S"] = "300"
    async with SilentServer() as silent:
        hub = await cli.start(*hub_args(cli, "--amqp-url", silent.url()))
        await asyncio.wait_for(silent.first_connection(), BOUND_S)
        hub.process.send_signal(sig)
        code = await hub.finish(STOP_BOUND_S)
    assert code == ExitCode.OK, hub.describe()
    assert hub.events("hub_stopped_while_starting"), hub.describe()
    assert "Traceback" not in hub.stderr


async def test_hub_run_stops_on_sigterm_while_reconnecting_and_logs_its_summary(
    cli: Cli, amqp_url: str
) -> None:
    async with TcpProxy(amqp_url) as proxy:
        hub = await cli.start(*hub_args(cli, "--amqp-url", proxy.url))
        await hub.wait_for_event("hub_started")
        await consuming(amqp_url, Names(cli.namespace).ingress_queue)
        proxy.refusing = True
        await proxy.sever()
        await asyncio.sleep(1.0)  # the hub notices, and its reconnection attempts are refused
        assert hub.returncode is None, hub.describe()
        code = await hub.terminate(STOP_BOUND_S)
    assert code == 0, hub.describe()
    (summary,) = hub.events("hub_summary")
    assert summary["ledger_imbalances"] == []


async def consuming(amqp_url: str, queue_name: str) -> None:
    """Until the hub's worker consumes ``queue_name``: before, a cut connection kills the worker
    while it sets up, which is not what the test is about."""
    connection = await aio_pika.connect(amqp_url, timeout=BOUND_S)
    async with connection:
        channel = await connection.channel()
        async with asyncio.timeout(BOUND_S):
            while True:
                queue = await channel.declare_queue(queue_name, passive=True)
                if queue.declaration_result.consumer_count:
                    return
                await asyncio.sleep(0.05)
