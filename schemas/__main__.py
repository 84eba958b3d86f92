"""Export the JSON Schema of the contract: ``python -m schemas [--out DIR]``.

Without ``--out`` it prints one JSON object keyed by model name; with it, it writes one
``<Model>.schema.json`` file per model.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Annotated, Final

from pydantic import BaseModel, StringConstraints

from schemas.contract import Contract
from schemas.directory import AgencyDirectory
from schemas.envelope import Envelope
from schemas.receipt import StatusReceipt
from schemas.stamp import Stamp

BASE64URL_NO_PADDING: Final = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?$"
"""base64url without padding (RFC 7515 §2): no '=', and never a length of 4n + 1."""


class FlattenedJws(Contract):
    """A message body: a JWS in the flattened JSON serialisation (RFC 7515 §7.2.2), with these
    three members and no others. ``payload`` decodes to an Envelope (``typ``
    ``dochub-document+json``) or a StatusReceipt (``typ`` ``dochub-receipt+json``); ``protected``
    decodes to ``{"alg": "EdDSA", "kid": <RFC 7638 thumbprint>, "typ": ...}``, which this schema
    cannot check inside the base64url."""

    protected: Annotated[str, StringConstraints(min_length=2, pattern=BASE64URL_NO_PADDING)]
    payload: Annotated[str, StringConstraints(min_length=2, pattern=BASE64URL_NO_PADDING)]
    signature: Annotated[
        str, StringConstraints(min_length=86, max_length=86, pattern=BASE64URL_NO_PADDING)
    ]
    """The 64-byte Ed25519 signature: 86 characters."""


EXPORTED: tuple[type[BaseModel], ...] = (
    Envelope,
    StatusReceipt,
    AgencyDirectory,
    Stamp,
    FlattenedJws,
)


def json_schemas() -> dict[str, dict[str, object]]:
    return {model.__name__: model.model_json_schema() for model in EXPORTED}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas", description=__doc__)
    parser.add_argument("--out", type=Path, help="write one file per model into this folder")
    args = parser.parse_args(argv)
    schemas = json_schemas()
    if args.out is None:
        json.dump(schemas, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas.items():
        path = args.out / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
