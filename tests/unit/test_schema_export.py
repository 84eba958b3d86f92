"""``python -m schemas``: the JSON Schema of the contract, for agencies that do not use Python."""

import base64
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas import (
    AGENCY_ID_PATTERN,
    Attachment,
    Envelope,
    StatusReceipt,
    limits,
    sign_document,
)
from schemas.contract import BASE64URL_PATTERN
from schemas.signing import WIRE_REQUIRED
from tests.factories import make_envelope, organ

ROOT = Path(__file__).resolve().parents[2]
_KEY = Ed25519PrivateKey.generate()
MODELS = {"Envelope", "StatusReceipt", "AgencyDirectory", "Stamp", "FlattenedJws"}


def run_schemas(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "schemas", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=True,
    )


@pytest.fixture(scope="module")
def printed() -> dict[str, Any]:
    result = run_schemas()
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="module")
def envelope_schema(printed: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = printed["Envelope"]
    return schema


def test_prints_one_object_keyed_by_model(printed: dict[str, Any]) -> None:
    assert set(printed) == MODELS
    for name in MODELS:
        assert printed[name]["title"] == name
        assert printed[name]["type"] == "object"


def test_out_writes_one_file_per_model(tmp_path: Path, printed: dict[str, Any]) -> None:
    out = tmp_path / "nested" / "schemas"
    result = run_schemas("--out", str(out))
    written = sorted(path.name for path in out.iterdir())
    assert written == sorted(f"{name}.schema.json" for name in MODELS)
    assert sorted(result.stdout.split()) == sorted(str(out / name) for name in written)
    for name in MODELS:
        text = (out / f"{name}.schema.json").read_text(encoding="utf-8")
        assert json.loads(text) == printed[name]


def test_schema_text_keeps_non_ascii() -> None:
    # Vietnamese descriptions stay readable, not \u escapes.
    assert "\\u" not in run_schemas().stdout


def test_envelope_schema_carries_the_limits(envelope_schema: dict[str, Any]) -> None:
    properties = envelope_schema["properties"]
    assert properties["recipients"]["maxItems"] == limits.MAX_RECIPIENTS
    assert properties["recipients"]["minItems"] == 1
    assert properties["subject"]["maxLength"] == limits.MAX_SUBJECT_CHARS
    assert properties["attachments"]["maxItems"] == limits.MAX_ATTACHMENTS
    assert "trace" not in properties
    assert "signature" not in properties
    assert properties["schema_version"]["const"] == "2.0"
    assert envelope_schema["additionalProperties"] is False
    attachment = envelope_schema["$defs"]["Attachment"]["properties"]
    assert attachment["size"]["maximum"] == limits.MAX_ATTACHMENT_BYTES


def test_envelope_schema_carries_the_agency_id_pattern(envelope_schema: dict[str, Any]) -> None:
    organ_schema = envelope_schema["$defs"]["Organ"]
    assert organ_schema["properties"]["id"]["pattern"] == AGENCY_ID_PATTERN
    assert envelope_schema["properties"]["sender"]["$ref"] == "#/$defs/Organ"


def test_receipt_and_directory_schemas_use_the_agency_id_pattern(
    printed: dict[str, Any],
) -> None:
    receipt_reference = printed["StatusReceipt"]["$defs"]["DocumentReference"]
    assert receipt_reference["properties"]["sender"]["pattern"] == AGENCY_ID_PATTERN
    entry = printed["AgencyDirectory"]["$defs"]["AgencyEntry"]
    assert entry["properties"]["id"]["pattern"] == AGENCY_ID_PATTERN
    assert printed["AgencyDirectory"]["properties"]["agencies"]["maxItems"] == 100_000


def test_receipt_and_directory_schemas_are_2_0(printed: dict[str, Any]) -> None:
    receipt = printed["StatusReceipt"]
    assert receipt["properties"]["schema_version"]["const"] == "2.0"
    assert "signature" not in receipt["properties"]
    assert "refused" in receipt["properties"]
    refused = receipt["$defs"]["RefusedInput"]
    assert refused["properties"]["kind"]["enum"] == ["document", "status"]
    directory = printed["AgencyDirectory"]
    assert directory["properties"]["schema_version"]["const"] == "2.0"
    assert "hub" in directory["properties"]
    assert set(directory["$defs"]["HubEntry"]["properties"]) == {"name", "public_key"}


@pytest.mark.parametrize(
    ("name", "model"), [("Envelope", Envelope), ("StatusReceipt", StatusReceipt)]
)
def test_members_required_on_the_wire_are_required_in_the_schema(
    printed: dict[str, Any], name: str, model: type[Envelope] | type[StatusReceipt]
) -> None:
    """The hub refuses a payload without these (schema_invalid), and the contract says the JSON
    Schema states every rule: an agency that validates against it must learn they are needed."""
    required = set(printed[name].get("required", []))
    assert set(WIRE_REQUIRED[model]) <= required


def content_string_schema(envelope_schema: dict[str, Any]) -> dict[str, Any]:
    content_schema = envelope_schema["$defs"]["Attachment"]["properties"]["content"]
    (string_schema,) = [choice for choice in content_schema["anyOf"] if choice["type"] == "string"]
    found: dict[str, Any] = string_schema
    return found


def test_exported_inline_content_is_base64url(envelope_schema: dict[str, Any]) -> None:
    string_schema = content_string_schema(envelope_schema)
    assert string_schema["contentEncoding"] == "base64url"
    assert string_schema["pattern"] == BASE64URL_PATTERN
    pattern = re.compile(string_schema["pattern"])
    content = bytes(range(256))
    assert pattern.match(base64.urlsafe_b64encode(content).decode())
    assert pattern.match(base64.urlsafe_b64encode(content).decode().rstrip("="))
    assert not pattern.match(base64.b64encode(content).decode())


def test_exported_inline_attachment_length_admits_the_largest_attachment(
    envelope_schema: dict[str, Any],
) -> None:
    attachment = Attachment.inline(
        "max.bin", "application/octet-stream", b"\0" * limits.MAX_INLINE_ATTACHMENT_BYTES
    )
    length = len(json.loads(attachment.model_dump_json())["content"])
    assert length == 4 * math.ceil(limits.MAX_INLINE_ATTACHMENT_BYTES / 3)
    string_schema = content_string_schema(envelope_schema)
    assert string_schema["minLength"] <= length <= string_schema["maxLength"]
    unpadded = len(json.loads(attachment.model_dump_json())["content"].rstrip("="))
    assert string_schema["minLength"] <= unpadded <= string_schema["maxLength"]


def test_exported_jws_schema_admits_a_real_body_and_refuses_padding(
    printed: dict[str, Any],
) -> None:
    """The message body's schema: three base64url members without padding, and no others."""
    body_schema = printed["FlattenedJws"]
    assert set(body_schema["properties"]) == {"protected", "payload", "signature"}
    assert body_schema["additionalProperties"] is False
    assert set(body_schema["required"]) == {"protected", "payload", "signature"}
    signed = sign_document(make_envelope(organ("000.00.00.G01"), [organ("000.00.00.H01")]), _KEY)
    members = json.loads(signed.body)
    for name, text in members.items():
        member = body_schema["properties"][name]
        assert re.match(member["pattern"], text), name
        assert member.get("minLength", 0) <= len(text) <= member.get("maxLength", len(text))
        padded = text + "=" * (-len(text) % 4 or 4)
        assert not re.match(member["pattern"], padded), name
    assert len(members["signature"]) == 86  # base64url of 64 bytes, unpadded


def test_exported_stamp_schema(printed: dict[str, Any]) -> None:
    stamp = printed["Stamp"]
    assert stamp["properties"]["kind"]["enum"] == ["document", "status"]
    assert stamp["properties"]["schema_version"]["const"] == "2.0"
    assert set(stamp["required"]) >= {"kind", "id", "sha256", "to", "routed_at", "node"}
