"""The hub's settings: ``DOCHUB_*`` environment variables, overridden by CLI flags.

Loaded only by the CLI and passed in; the rest of the hub never reads the environment.
"""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas import limits
from schemas.naming import NAMESPACE_PATTERN
from schemas.urls import DEFAULT_CONNECT_TIMEOUT_S

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"

LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["debug", "info", "warning", "error"]


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCHUB_", frozen=True, extra="ignore")

    amqp_url: str = DEFAULT_AMQP_URL
    namespace: str = Field("dochub", pattern=NAMESPACE_PATTERN)
    ledger_url: str = "sqlite:///./dochub.db"
    registry: Path = Path("agencies.toml")
    hub_key: Path = Path("keys/hub.key")
    """The hub's Ed25519 private key (PEM), whose public key the registry's ``[hub]`` lists; it
    signs the hub's routing stamps and refusals. ``dochub hub keygen`` makes both."""
    trusted_users: Annotated[tuple[str, ...], NoDecode] = ()
    """Broker users that may publish for any agency, comma-separated: a simulator's fleet, or
    ``guest`` for a trial without ``dochub provision``. Any other message must come from the
    broker user of the agency that signed it."""
    log_format: LogFormat = "auto"
    log_level: LogLevel = "info"
    workers: int = Field(1, ge=1, le=64)
    """Competing consumers on the ingress queue, each on its own channel, in this one process.
    They share its event loop: one is fastest where the broker and the agencies share the CPU,
    more can help where confirms come back slowly (a distant broker)."""
    prefetch: int = Field(256, ge=1, le=65535)
    batch_max: int = Field(256, ge=1, le=5000)
    throughput_interval_s: float = Field(5.0, gt=0, le=3600)
    reconnect_interval_s: float = Field(5.0, gt=0, le=600)
    """Seconds between attempts to reconnect to a broker that went away."""
    connect_timeout_s: float = Field(DEFAULT_CONNECT_TIMEOUT_S, gt=0, le=600)
    """How long connecting to RabbitMQ may take, TCP and AMQP handshake together (each
    reconnection attempt too); agencies' ``dochub`` commands read it as well."""
    delivery_limit: int = Field(5, ge=1, le=1000)
    """How often the broker redelivers a message before dead-lettering it."""
    ingress_max_length: int = Field(1_000_000, ge=1)
    """Documents waiting in the ingress queue beyond this are refused to their senders."""
    agency_queue_max_length: int = Field(100_000, ge=1)
    """Messages an inbox or status queue holds; beyond that the hub's publish is refused and the
    message is dead-lettered once its delivery limit is spent."""
    max_message_bytes: int = Field(limits.MAX_MESSAGE_BYTES, ge=1024, le=limits.MAX_MESSAGE_BYTES)
    ledger_busy_timeout_s: float = Field(2.0, gt=0, le=600)
    """How long a ledger write waits for another process's lock before the hub logs
    ``ledger_unavailable`` and retries (holding its messages unacked meanwhile)."""
    stats_utc_offset_hours: int = Field(7, ge=-12, le=14)
    """Statistics are attributed to days in this offset from UTC; Vietnam is UTC+7."""

    @field_validator("trusted_users", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(user.strip() for user in value.split(",") if user.strip())
        return value
