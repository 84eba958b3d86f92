"""Inbox throughput: how fast one agency's ``AgencyClient`` takes, verifies and acks its deliveries.

The hub routes the documents first, while nobody reads the inbox; then the hub stops, and the
clock runs from the recipient's first ``anext(inbox)`` until it has acked them all, each one as
soon as it is handed over (as ``dochub agency listen`` does). The CPU of this process is then the
client's alone; the broker's is reported beside it. Run it with
``python bench/inbox_throughput.py --documents 3000 --rounds 3``.
"""

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from router_throughput import (
    CONSUME_TIMEOUT_S,
    RECIPIENT,
    Round,
    Usage,
    bench_hub,
    delete_namespace,
    directory_for,
    hub_drain,
    signed_bodies,
)

from agency_client import AgencyClient
from dochub.logging import configure_logging
from hub.event_loop import install_uvloop
from hub.settings import DEFAULT_AMQP_URL


async def inbox_round(amqp_url: str, documents: int, folder: Path) -> Round:
    key = Ed25519PrivateKey.generate()
    recipient_key = Ed25519PrivateKey.generate()
    directory = directory_for(key, recipient_key)
    hub = bench_hub(amqp_url, directory, folder, 1)
    namespace = hub.settings.namespace
    await hub_drain(hub, signed_bodies(documents, key))  # routed, waiting in the inbox
    try:
        await hub.stop()
        client = AgencyClient(
            RECIPIENT.id,
            recipient_key,
            directory,
            amqp_url=amqp_url,
            namespace=namespace,
            state_path=folder / f"{namespace}.state",
        )
        async with client, client.inbox() as inbox:
            with Usage() as usage:
                began = time.perf_counter()
                async with asyncio.timeout(CONSUME_TIMEOUT_S):
                    for _ in range(documents):
                        delivery = await anext(inbox)
                        await delivery.ack()
                elapsed = time.perf_counter() - began
        return Round(
            documents / elapsed, usage.cpu_ms_per(documents), usage.broker_ms_per(documents)
        )
    finally:
        await delete_namespace(amqp_url, hub)


async def main(documents: int, rounds: int, amqp_url: str) -> None:
    configure_logging("console", "warning")
    results: list[Round] = []
    with tempfile.TemporaryDirectory() as folder:
        for number in range(1, rounds + 1):
            results.append(await inbox_round(amqp_url, documents, Path(folder)))
            print(f"round {number}: {_shown(results[-1])}", flush=True)
    median = Round.median_of(results)
    print(
        f"median of {rounds} rounds of {documents:,} deliveries "
        f"({asyncio.get_running_loop().__class__.__module__} loop): {_shown(median)}"
    )


def _shown(figures: Round) -> str:
    return (
        f"{figures.docs_per_s:,.0f} deliveries/s taken, verified and acked (CPU per delivery: "
        f"{figures.cpu_ms:.2f} ms client, {figures.broker_ms:.2f} ms broker)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--amqp-url", default=DEFAULT_AMQP_URL)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    arguments = parser.parse_args()
    if arguments.loop == "uvloop":
        install_uvloop()
    asyncio.run(main(arguments.documents, arguments.rounds, arguments.amqp_url))
