"""Limits on every field of the contract, in one place so the hub, the client and the JSON Schema
agree on them."""

from typing import Final

MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024
"""Largest message the hub reads; anything larger is refused before it is parsed."""
MAX_INLINE_ATTACHMENT_BYTES: Final = 1024 * 1024
MAX_ATTACHMENT_BYTES: Final = 2 * 1024 * 1024 * 1024
MAX_ATTACHMENTS: Final = 50
MAX_RECIPIENTS: Final = 500
MAX_NAME_CHARS: Final = 300
MAX_SUBJECT_CHARS: Final = 2_000
MAX_CONTENT_CHARS: Final = 100_000
MAX_DESCRIPTION_CHARS: Final = 2_000
MAX_SHORT_TEXT_CHARS: Final = 100
MAX_CODE_NUMBER_CHARS: Final = 20
MAX_NOTATION_CHARS: Final = 100
MAX_PAGES: Final = 100_000
MAX_COPIES: Final = 100_000
