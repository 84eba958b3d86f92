"""Which queues and exchanges belong to a namespace, as ``dochub namespace`` lists and deletes
them: the namespace and a dot, exactly."""

import pytest

from hub.management import QueueInfo
from hub.namespaces import in_namespace, namespace, namespace_of, namespaces
from schemas import Names


def queue(name: str, messages: int = 0, consumers: int = 0) -> QueueInfo:
    return QueueInfo(name, messages, consumers)


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("dochub.ingress", "dochub"),
        ("dochub.ingress-unrouted", "dochub"),
        ("dochub.dead-letter", "dochub"),
        ("dochub.delivery", "dochub"),
        ("dochub.status", "dochub"),
        ("sim-0123.inbox.000.00.00.G12", "sim-0123"),
        ("sim-0123.status.000.00.00.G12", "sim-0123"),
        ("dochub.inbox.", None),
        ("myapp.orders", None),
        ("amq.direct", None),
        ("amq.ingress", None),
        ("", None),
        ("dochub", None),
        ("a.b.ingress", None),
    ],
)
def test_only_the_names_a_hub_declares_make_a_namespace(name: str, owner: str | None) -> None:
    assert namespace_of(name) == owner


def test_every_name_the_topology_declares_is_recognised() -> None:
    names = Names("ns")
    declared = [
        names.ingress_exchange,
        names.unrouted_exchange,
        names.delivery_exchange,
        names.status_exchange,
        names.dead_letter_exchange,
        names.dead_letter_queue,
        names.inbox_queue("000.00.00.G12"),
        names.status_queue("000.00.00.G12"),
    ]
    assert {namespace_of(name) for name in declared} == {"ns"}


def test_a_namespace_is_its_name_and_a_dot() -> None:
    assert in_namespace("dochub", "dochub.ingress")
    assert not in_namespace("dochub", "dochub2.ingress")
    assert not in_namespace("dochub", "dochub")


def test_namespaces_are_counted_apart() -> None:
    queues = [
        queue("dochub.ingress", messages=3, consumers=1),
        queue("dochub.inbox.000.00.00.G12", messages=2),
        queue("dochub2.ingress"),
        queue("dochub.orders"),  # not a hub's name, but under the namespace: deleted with it
        queue("other"),
    ]
    exchanges = ["", "amq.direct", "dochub.ingress", "dochub2.ingress", "dochub.delivery"]
    found = {ns.name: ns for ns in namespaces(queues, exchanges)}
    assert set(found) == {"dochub", "dochub2"}
    assert [q.name for q in found["dochub"].queues] == [
        "dochub.inbox.000.00.00.G12",
        "dochub.ingress",
        "dochub.orders",
    ]
    assert found["dochub"].exchanges == ("dochub.delivery", "dochub.ingress")
    assert (found["dochub"].messages, found["dochub"].consumers) == (5, 1)
    assert [q.name for q in found["dochub2"].queues] == ["dochub2.ingress"]
    assert namespace("nothing", queues, exchanges).empty
