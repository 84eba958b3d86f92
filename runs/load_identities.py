"""The load test's agencies, their keys and the documents they send.

Keys derive from the seed and the agency id, as a replay's do (``simulator.identities``): the
parent's embedded hub, the agencies' process and an external hub given the exported directory all
agree on them without passing a secret around. They are for load tests only.
"""

import datetime as dt
import math
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from runs.load_schedule import agency_ids
from schemas import limits
from schemas.agency_id import AgencyKind
from schemas.directory import AgencyDirectory, AgencyEntry, HubEntry
from schemas.envelope import (
    DocumentCode,
    DocumentType,
    Envelope,
    Organ,
    PromulgationInfo,
    Signer,
)
from schemas.keys import public_key_to_text
from schemas.signing import sign_document
from simulator.identities import SIMULATED_HUB, simulation_key

MAX_SIZE_BYTES: Final = 128 * 1024
"""Largest ``--size``: the padding goes in the envelope's text content, which has a limit."""
_BASE64_GROWTH: Final = 4 / 3


def load_key(seed: int, agency_id: str) -> Ed25519PrivateKey:
    return simulation_key(seed, agency_id)


def hub_key(seed: int) -> Ed25519PrivateKey:
    return simulation_key(seed, SIMULATED_HUB)


def load_directory(agencies: int, seed: int) -> AgencyDirectory:
    return AgencyDirectory(
        hub=HubEntry(
            name="DocHub (load test)", public_key=public_key_to_text(hub_key(seed).public_key())
        ),
        agencies=[
            AgencyEntry.for_key(
                agency_id,
                f"Load-test agency {agency_id}",
                AgencyKind.OTHER,
                load_key(seed, agency_id).public_key(),
            )
            for agency_id in agency_ids(agencies)
        ],
    )


@dataclass(frozen=True, slots=True)
class DocumentMaker:
    """Envelopes whose signed body is about ``size`` bytes (never less than an empty one's)."""

    padding_chars: int

    @classmethod
    def for_size(cls, size: int) -> "DocumentMaker":
        key = Ed25519PrivateKey.generate()
        bare = len(sign_document(cls(0).envelope(_PROBE_ID, _PROBE, [_PROBE]), key).body)
        padding = math.floor(max(0, size - bare) / _BASE64_GROWTH)
        return cls(min(padding, limits.MAX_CONTENT_CHARS))

    def envelope(self, document_id: UUID, sender: Organ, recipients: list[Organ]) -> Envelope:
        return Envelope(
            id=document_id,
            sender=sender,
            recipients=recipients,
            code=DocumentCode(number="1", notation="LT"),
            document_type=DocumentType.OFFICIAL_LETTER,
            subject="Đo tải trục liên thông văn bản",
            content="x" * self.padding_chars if self.padding_chars else None,
            promulgation=PromulgationInfo(place="Hà Nội", date=dt.date(2026, 1, 1)),
            signer=Signer(function="Chánh Văn phòng", full_name="Nguyễn Văn A"),
        )

    def body_bytes(self) -> int:
        """The size of a signed body this maker makes (one recipient)."""
        key = Ed25519PrivateKey.generate()
        return len(sign_document(self.envelope(_PROBE_ID, _PROBE, [_PROBE]), key).body)


_PROBE_ID = UUID(int=1)
_PROBE = Organ(id="001.00.00.T01", name="Load-test agency 001.00.00.T01")
