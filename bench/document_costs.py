"""CPU per document of each step the hub runs in Python, without a broker: what bounds the router.

Each step is timed over the same signed documents, and the median of several passes is printed in
microseconds. Run it with ``python bench/document_costs.py --documents 2000 --passes 5``.
"""

import argparse
import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from router_throughput import HUB_KEY, RECIPIENT, directory_for, signed_bodies

from hub.inspection import DocumentInput, Publishers, inspect
from hub.registry import Registry
from schemas.envelope import Envelope
from schemas.jws import STAMP_TYP, loads_unique, parse_flattened, sign_compact
from schemas.naming import DOCUMENT_ROUTING_KEY, Names
from schemas.signing import authenticate
from schemas.stamp import Stamp


def timed_us(step: Callable[[int], object], count: int, passes: int) -> float:
    """Median over ``passes`` of the mean microseconds ``step`` takes per document."""
    means = []
    for _ in range(passes):
        began = time.perf_counter()
        for index in range(count):
            step(index)
        means.append((time.perf_counter() - began) / count * 1e6)
    return statistics.median(means)


PUBLISHERS = Publishers(Names("bench"), ("guest",))


def inspected_documents(bodies: list[bytes], registry: Registry) -> list[DocumentInput]:
    """The hub's inspection of each signed body, every one of them accepted."""
    verdicts = [
        inspect(DOCUMENT_ROUTING_KEY, body, "guest", registry, PUBLISHERS, 1 << 20)
        for body in bodies
    ]
    documents = [verdict for verdict in verdicts if isinstance(verdict, DocumentInput)]
    assert len(documents) == len(bodies), "a benchmark document was refused"
    return documents


def main(count: int, passes: int) -> None:
    key = Ed25519PrivateKey.generate()
    registry = Registry(directory_for(key))
    bodies = [body for _, body in signed_bodies(count, key)]
    documents = inspected_documents(bodies, registry)
    jws = [parse_flattened(loads_unique(body), "dochub-document+json") for body in bodies]
    public = key.public_key()
    to = [RECIPIENT.id]
    steps: dict[str, Callable[[int], object]] = {
        "inspect (all of step 1)": lambda i: inspect(
            DOCUMENT_ROUTING_KEY, bodies[i], "guest", registry, PUBLISHERS, 1 << 20
        ),
        "  authenticate (parse, verify, validate)": lambda i: authenticate(
            bodies[i], Envelope, registry
        ),
        "    Ed25519 verify": lambda i: jws[i].verify(public),
        "    JSON parse of the body (I-JSON)": lambda i: loads_unique(bodies[i]),
        "    contract validation (pydantic, strict)": lambda i: Envelope.model_validate_json(
            jws[i].payload_bytes, strict=True
        ),
        "stamp (model, JSON, Ed25519 sign)": lambda i: sign_compact(
            Stamp.now("document", documents[i].envelope.id, documents[i].input_key, to, "hub:bench")
            .model_dump_json()
            .encode(),
            HUB_KEY,
            STAMP_TYP,
        ),
    }
    for name, step in steps.items():
        print(f"{name:45s} {timed_us(step, count, passes):7.1f} µs", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--passes", type=int, default=5)
    arguments = parser.parse_args()
    main(arguments.documents, arguments.passes)
