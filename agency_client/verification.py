"""What an agency checks before it trusts a message from its queues, with no I/O.

A message is trusted only with the hub's stamp (signed by the directory's hub key, about exactly
these body bytes, naming this agency) and its signer's own signature, verified over the bytes as
received: only what the hub checked, counted and routed, as its signer wrote it.
"""

import hashlib
from dataclasses import dataclass
from typing import Generic, Literal

from pydantic import ValidationError

from schemas.contract import describe_validation_error
from schemas.directory import HUB_SIGNER, AgencyDirectory
from schemas.envelope import Envelope
from schemas.jws import STAMP_TYP, JwsError, parse_compact
from schemas.receipt import StatusReceipt
from schemas.signing import Authenticated, Model, NotAuthentic, authenticate
from schemas.stamp import STAMP_HEADER, Stamp


@dataclass(frozen=True, slots=True)
class Verified(Generic[Model]):
    signed: Authenticated[Model]
    stamp: Stamp


def verify_incoming(
    body: bytes,
    headers: dict[str, object],
    model: type[Model],
    directory: AgencyDirectory,
    agency_id: str,
) -> Verified[Model] | str:
    """The verified message, or why it cannot be trusted."""
    kind: Literal["document", "status"] = "document" if model is Envelope else "status"
    stamp = _stamp(body, headers, kind, directory, agency_id)
    if isinstance(stamp, str):
        return stamp
    opened = authenticate(body, model, directory)
    if isinstance(opened, NotAuthentic):
        return f"{opened.reason.value}: {opened.detail}"
    if stamp.id != opened.model.id:
        return f"the hub's stamp is about {stamp.id}, the message is {opened.model.id}"
    problem = _addressing_problem(opened.model, opened.signer, agency_id)
    return problem if problem is not None else Verified(opened, stamp)


def _stamp(
    body: bytes,
    headers: dict[str, object],
    kind: Literal["document", "status"],
    directory: AgencyDirectory,
    agency_id: str,
) -> Stamp | str:
    hub = directory.hub
    if hub is None:
        return "the directory has no [hub] key to check the hub's stamp with"
    text = headers.get(STAMP_HEADER)
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    if not isinstance(text, str):
        return "no hub stamp: the hub did not route it"
    try:
        jws = parse_compact(text, STAMP_TYP)
    except JwsError as exc:
        return f"the hub stamp is not valid: {exc}"
    if jws.kid != hub.key_id or not jws.verify(hub.verify_key):
        return "the hub stamp is not signed by the hub's key"
    try:
        stamp = Stamp.model_validate_json(jws.payload_bytes)
    except ValidationError as exc:
        return f"the hub stamp is not valid: {describe_validation_error(exc)}"
    if stamp.kind != kind:
        return f"the hub stamped it as {stamp.kind}, not {kind}"
    if stamp.sha256 != hashlib.sha256(body).hexdigest():
        return "the hub stamp is about other bytes"
    if agency_id not in stamp.to:
        return f"the hub stamp does not name {agency_id}"
    return stamp


def _addressing_problem(
    payload: Envelope | StatusReceipt, signer: str, agency_id: str
) -> str | None:
    if isinstance(payload, Envelope):
        if agency_id not in payload.recipient_ids:
            return f"not addressed to {agency_id}"
        return None
    if payload.document is not None and payload.document.sender != agency_id:
        return f"about a document of {payload.document.sender}"
    if signer == HUB_SIGNER and payload.document is None and payload.refused is None:
        return "a hub refusal that names nothing"
    return None
