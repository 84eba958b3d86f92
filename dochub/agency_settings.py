"""An agency's settings for the ``dochub agency`` commands."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.settings import DEFAULT_AMQP_URL, LogFormat, LogLevel
from schemas.agency_id import AGENCY_ID_PATTERN
from schemas.naming import NAMESPACE_PATTERN
from schemas.urls import DEFAULT_CONNECT_TIMEOUT_S


class AgencySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCHUB_", frozen=True, extra="ignore")

    amqp_url: str = DEFAULT_AMQP_URL
    connect_timeout_s: float = Field(DEFAULT_CONNECT_TIMEOUT_S, gt=0, le=600)
    namespace: str = Field("dochub", pattern=NAMESPACE_PATTERN)
    agency_id: str = Field(pattern=AGENCY_ID_PATTERN)
    agency_key: Path
    registry: Path = Path("agencies.toml")
    agency_state: Path | None = None
    """A SQLite file that remembers the documents and receipts handled, across restarts."""
    log_format: LogFormat = "auto"
    log_level: LogLevel = "info"
