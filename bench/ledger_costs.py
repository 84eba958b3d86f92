"""CPU and wall time the hub's SQLite ledger takes per batch: one ``admit`` of a batch of signed
documents, then its ``complete``, as the router calls them, on a ledger file on disk.

Prints, per batch size, the median over passes of the process's CPU (every thread: the event
loop's and the ledger's) and of the wall time, per batch and per document. Run it with
``python bench/ledger_costs.py --batches 300 --passes 3``.
"""

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from document_costs import inspected_documents
from router_throughput import directory_for, signed_bodies

from hub.event_loop import install_uvloop
from hub.inspection import DocumentInput
from hub.ledger import Completion
from hub.registry import Registry
from hub.sqlite_ledger import SqliteLedger


async def one_pass(ledger: SqliteLedger, batches: list[list[DocumentInput]]) -> tuple[float, float]:
    """CPU seconds and wall seconds to admit and complete every batch, one after the other."""
    cpu, wall = time.process_time(), time.perf_counter()
    for batch in batches:
        await ledger.admit(batch)
        await ledger.complete(Completion(documents=[item.envelope.id for item in batch]))
    return time.process_time() - cpu, time.perf_counter() - wall


async def measure(batch_size: int, batch_count: int, passes: int, folder: Path) -> None:
    key = Ed25519PrivateKey.generate()
    registry = Registry(directory_for(key))
    cpu_per_batch, wall_per_batch = [], []
    for number in range(passes):
        bodies = [body for _, body in signed_bodies(batch_size * batch_count, key)]
        documents = inspected_documents(bodies, registry)
        batches = [documents[i : i + batch_size] for i in range(0, len(documents), batch_size)]
        url = f"sqlite:///{folder / f'ledger-{batch_size}-{number}.db'}"
        ledger = await SqliteLedger.open(url, dt.timedelta(hours=7))
        try:
            cpu, wall = await one_pass(ledger, batches)
        finally:
            await ledger.close()
        cpu_per_batch.append(cpu / batch_count)
        wall_per_batch.append(wall / batch_count)
    cpu_ms = statistics.median(cpu_per_batch) * 1000
    wall_ms = statistics.median(wall_per_batch) * 1000
    print(
        f"batch of {batch_size:>3}: CPU {cpu_ms:6.3f} ms a batch, {cpu_ms / batch_size:6.3f} ms a "
        f"document; wall {wall_ms:6.3f} ms a batch, {wall_ms / batch_size:6.3f} ms a document"
    )


async def main(batch_count: int, passes: int, sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="dochub-ledger-bench-") as folder:
        for size in sizes:
            await measure(size, batch_count, passes, Path(folder))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 32])
    arguments = parser.parse_args()
    install_uvloop()
    asyncio.run(main(arguments.batches, arguments.passes, arguments.sizes))
