"""Open the ledger a ``DOCHUB_LEDGER_URL`` names."""

import datetime as dt

from hub.errors import ConfigurationError
from hub.ledger import Ledger
from hub.sqlite_ledger import SqliteLedger


async def open_ledger(url: str, utc_offset: dt.timedelta) -> Ledger:
    if url.startswith("sqlite:"):
        return await SqliteLedger.open(url, utc_offset)
    if url.startswith(("postgresql:", "postgres:")):
        raise ConfigurationError(
            "the PostgreSQL ledger is not built yet; use sqlite:///PATH (one hub process)"
        )
    raise ConfigurationError(f"unknown ledger URL {url!r}: expected sqlite:///PATH")
