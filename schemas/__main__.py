"""Export the JSON Schema of the contract: ``python -m schemas [--out DIR]``.

Without ``--out`` it prints one JSON object keyed by model name; with it, it writes one
``<Model>.schema.json`` file per model.
"""

import argparse
import json
import sys
from pathlib import Path

from pydantic import BaseModel

from schemas.directory import AgencyDirectory
from schemas.envelope import Envelope
from schemas.receipt import StatusReceipt

EXPORTED: tuple[type[BaseModel], ...] = (Envelope, StatusReceipt, AgencyDirectory)


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
