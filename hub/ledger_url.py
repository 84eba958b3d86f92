"""Open the ledger a ``DOCHUB_LEDGER_URL`` names."""

import datetime as dt

from hub.errors import ConfigurationError
from hub.ledger import Ledger
from hub.sqlite_ledger import DEFAULT_BUSY_TIMEOUT_S, SqliteLedger


async def open_ledger(
    url: str,
    utc_offset: dt.timedelta,
    *,
    busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    read_only: bool = False,
) -> Ledger:
    """The ledger of ``url``: a hub's, made if it does not exist; or, ``read_only``, an existing
    one that is read and never changed."""
    _check_scheme(url)
    if read_only:
        return await SqliteLedger.open_read_only(url, utc_offset, busy_timeout_s=busy_timeout_s)
    return await SqliteLedger.open(url, utc_offset, busy_timeout_s=busy_timeout_s)


def _check_scheme(url: str) -> None:
    if url.startswith("sqlite:"):
        return
    if url.startswith(("postgresql:", "postgres:")):
        raise ConfigurationError(
            "the PostgreSQL ledger is not built yet; use sqlite:///PATH (one hub process)"
        )
    raise ConfigurationError(f"unknown ledger URL {url!r}: expected sqlite:///PATH")
