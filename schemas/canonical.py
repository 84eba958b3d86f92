"""Canonical bytes: what a signature covers, and what the hub compares to tell a resend from an id
reused with other content.

The canonical form is the model's JSON data without ``signature`` and ``trace``, with keys sorted,
no white space, and UTF-8 text (not ``\\u`` escapes), so any language can rebuild it.
"""

import hashlib
import json
from typing import Final

from schemas.contract import Contract

UNSIGNED_FIELDS: Final = frozenset({"signature", "trace"})


def canonical_bytes(model: Contract) -> bytes:
    data = model.model_dump(mode="json", exclude=set(UNSIGNED_FIELDS))
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(model: Contract) -> str:
    """Hex sha256 of the canonical bytes."""
    return hashlib.sha256(canonical_bytes(model)).hexdigest()
