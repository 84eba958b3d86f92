"""Two agencies exchange one document through a hub: send, receive with a verified signature,
answer with receipts, read them back.

The hub runs in this process on a namespace of its own, so the example needs only a RabbitMQ:
``python examples/exchange_one_document.py [AMQP_URL]``.
"""

import asyncio
import datetime as dt
import sys
import tempfile
import uuid
from pathlib import Path

import aio_pika
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agency_client import DEFAULT_AMQP_URL, AgencyClient
from dochub.logging import configure_logging
from hub.registry import Registry
from hub.service import Hub
from hub.settings import HubSettings
from schemas import (
    AgencyDirectory,
    AgencyEntry,
    AgencyKind,
    DocumentCode,
    DocumentType,
    Envelope,
    HubEntry,
    PromulgationInfo,
    Signer,
    StatusCode,
    public_key_to_text,
)
from schemas.urls import broker_user

MINISTRY = "000.00.00.G12"
PROVINCE = "000.00.00.H29"


async def main(amqp_url: str) -> None:
    configure_logging("console", "warning")
    keys = {MINISTRY: Ed25519PrivateKey.generate(), PROVINCE: Ed25519PrivateKey.generate()}
    hub_key = Ed25519PrivateKey.generate()
    directory = AgencyDirectory(
        hub=HubEntry(public_key=public_key_to_text(hub_key.public_key())),
        agencies=[
            AgencyEntry.for_key(
                MINISTRY, "Bộ Nội vụ", AgencyKind.MINISTRY, keys[MINISTRY].public_key()
            ),
            AgencyEntry.for_key(
                PROVINCE,
                "Ủy ban nhân dân thành phố Hà Nội",
                AgencyKind.PROVINCE,
                keys[PROVINCE].public_key(),
            ),
        ],
    )
    namespace = f"example-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        settings = HubSettings(
            amqp_url=amqp_url,
            namespace=namespace,
            ledger_url=f"sqlite:///{Path(folder) / 'ledger.db'}",
            trusted_users=(broker_user(amqp_url),),  # no `dochub provision` in this example
            _env_file=None,
        )
        hub = Hub(settings, Registry(directory), hub_key)
        try:
            async with hub:
                await exchange(amqp_url, namespace, directory, keys)
        finally:
            connection = await aio_pika.connect(amqp_url)
            async with connection:
                await hub.topology.delete(await connection.channel(), list(keys))


async def exchange(
    amqp_url: str,
    namespace: str,
    directory: AgencyDirectory,
    keys: dict[str, Ed25519PrivateKey],
) -> None:
    ministry = AgencyClient(
        MINISTRY, keys[MINISTRY], directory, amqp_url=amqp_url, namespace=namespace
    )
    province = AgencyClient(
        PROVINCE, keys[PROVINCE], directory, amqp_url=amqp_url, namespace=namespace
    )
    async with ministry, province:
        sent = await ministry.send(
            Envelope(
                sender=ministry.organ,
                recipients=[ministry.organ_of(PROVINCE)],
                code=DocumentCode(number="125", notation="BNV-CCHC"),
                document_type=DocumentType.OFFICIAL_LETTER,
                subject="Về việc báo cáo kết quả cải cách hành chính 6 tháng đầu năm",
                promulgation=PromulgationInfo(place="Hà Nội", date=dt.date.today()),
                signer=Signer(function="Thứ trưởng", full_name="Nguyễn Văn A"),
            )
        )
        print(f"sent {sent.model.id} ({sent.model.code}), confirmed by the broker")

        async with province.inbox() as inbox:
            delivery = await anext(inbox)  # the hub's stamp and the signature already verified
            print(f"{PROVINCE} received {delivery.envelope.code}: {delivery.envelope.subject}")
            for code in (StatusCode.ARRIVED, StatusCode.ACCEPTED):
                await province.send_status(delivery.envelope, code)
            await delivery.ack()

        async with ministry.statuses() as statuses:
            for _ in range(2):
                update = await anext(statuses)
                receipt = update.receipt
                responder = receipt.responder.id if receipt.responder else "hub"
                print(f"receipt {receipt.code.value} ({receipt.code.name}) from {responder}")
                await update.ack()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_AMQP_URL))
