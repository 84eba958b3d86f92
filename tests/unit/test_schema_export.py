"""``python -m schemas``: the JSON Schema of the contract, for agencies that do not use Python."""

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas import AGENCY_ID_PATTERN, Attachment, limits, sign
from tests.factories import make_envelope, organ

ROOT = Path(__file__).resolve().parents[2]
MODELS = {"Envelope", "StatusReceipt", "AgencyDirectory"}
_KEY = Ed25519PrivateKey.generate()


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
    assert properties["trace"]["maxItems"] == limits.MAX_TRACE_HOPS
    assert properties["schema_version"]["const"] == "1.0"
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


def test_exported_signature_length_admits_a_real_signature(
    envelope_schema: dict[str, Any],
) -> None:
    """The schema describes the JSON text, where the 64 signature bytes are base64 text."""
    signed = sign(make_envelope(organ("000.00.00.G01"), [organ("000.00.00.H01")]), _KEY)
    length = len(json.loads(signed.model_dump_json())["signature"]["value"])
    assert length == 88  # base64 of 64 bytes
    value_schema = envelope_schema["$defs"]["Signature"]["properties"]["value"]
    assert value_schema["minLength"] <= length <= value_schema["maxLength"]


def test_exported_inline_attachment_length_admits_the_largest_attachment(
    envelope_schema: dict[str, Any],
) -> None:
    attachment = Attachment.inline(
        "max.bin", "application/octet-stream", b"\0" * limits.MAX_INLINE_ATTACHMENT_BYTES
    )
    length = len(json.loads(attachment.model_dump_json())["content"])
    assert length == 4 * math.ceil(limits.MAX_INLINE_ATTACHMENT_BYTES / 3)
    content_schema = envelope_schema["$defs"]["Attachment"]["properties"]["content"]
    (string_schema,) = [choice for choice in content_schema["anyOf"] if choice["type"] == "string"]
    assert length <= string_schema["maxLength"]
