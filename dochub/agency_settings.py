"""An agency's settings for the ``dochub agency`` commands: the broker, namespace, registry and
logging settings the hub reads too, and the agency's own."""

from pathlib import Path

from pydantic import Field

from hub.settings import CommonSettings
from schemas.agency_id import AGENCY_ID_PATTERN


class AgencySettings(CommonSettings):
    agency_id: str = Field(pattern=AGENCY_ID_PATTERN)
    """This agency's id"""
    agency_key: Path
    """This agency's private key, PEM"""
    agency_state: Path | None = None
    """A SQLite file that remembers the documents and receipts handled, across restarts"""
