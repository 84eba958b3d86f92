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


class CommonSettings(BaseSettings):
    """What the hub and an agency's ``dochub`` commands both read. Each field's docstring is its
    flag's help (``dochub.settings_io.settings_options``)."""

    model_config = SettingsConfigDict(
        env_prefix="DOCHUB_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    amqp_url: str = DEFAULT_AMQP_URL
    """Broker URL"""
    namespace: str = Field("dochub", pattern=NAMESPACE_PATTERN)
    """Prefix of every exchange and queue"""
    connect_timeout_s: float = Field(DEFAULT_CONNECT_TIMEOUT_S, gt=0, le=600)
    """How long connecting to RabbitMQ may take, TCP and AMQP handshake together (each
    reconnection attempt too)."""
    registry: Path = Path("agencies.toml")
    """Agency registry (the agency directory), TOML"""
    log_format: LogFormat = "auto"
    """auto, json or console"""
    log_level: LogLevel = "info"
    """debug, info, warning or error"""


class HubSettings(CommonSettings):
    ledger_url: str = "sqlite:///./dochub.db"
    """sqlite:///PATH of the ledger"""
    hub_key: Path = Path("keys/hub.key")
    """The hub's Ed25519 private key (PEM), whose public key the registry's [hub] table lists;
    it signs the hub's routing stamps and refusals. `dochub hub keygen` makes both."""
    trusted_users: Annotated[tuple[str, ...], NoDecode] = ()
    """Broker users that may publish for any agency, comma-separated: a simulator's fleet, or
    guest for a trial without `dochub provision`. Any other message must come from the
    broker user of the agency that signed it."""
    workers: int = Field(1, ge=1, le=64)
    """Competing consumers on the ingress queue, each on its own channel, in this one process.
    They share its event loop: one is fastest where the broker and the agencies share the CPU,
    more can help where confirms come back slowly (a distant broker)."""
    prefetch: int = Field(256, ge=1, le=65535)
    """Prefetch window per worker"""
    batch_max: int = Field(256, ge=1, le=5000)
    """Largest micro-batch"""
    throughput_interval_s: float = Field(5.0, gt=0, le=3600)
    """Seconds between throughput logs"""
    reconnect_interval_s: float = Field(5.0, gt=0, le=600)
    """Seconds between attempts to reconnect to a broker that went away."""
    delivery_limit: int = Field(5, ge=1, le=1000)
    """Deliveries of a message before the broker dead-letters it"""
    ingress_max_length: int = Field(1_000_000, ge=1)
    """Documents waiting in the ingress queue beyond this are refused to their senders."""
    agency_queue_max_length: int = Field(100_000, ge=1)
    """Messages an inbox or status queue holds; beyond that the hub's publish is refused and the
    message is dead-lettered once its delivery limit is spent."""
    max_message_bytes: int = Field(limits.MAX_MESSAGE_BYTES, ge=1024, le=limits.MAX_MESSAGE_BYTES)
    """The largest message the hub accepts, in bytes; larger ones are refused."""
    ledger_busy_timeout_s: float = Field(2.0, gt=0, le=600)
    """How long a ledger write waits for another process's lock before the hub logs
    ledger_unavailable and retries (holding its messages unacked meanwhile)."""
    http_host: str = "127.0.0.1"
    """The address the hub's HTTP server (metrics, health, dashboard) listens on; 0.0.0.0 for
    every interface."""
    http_port: int = Field(8471, ge=0, le=65535)
    """The port of /metrics, /healthz, /readyz and the dashboard; 0 picks a free one."""
    queue_watch_interval_s: float = Field(2.0, gt=0, le=600)
    """Seconds between two readings of every queue's depth and consumers."""
    queue_without_consumer_after_s: float = Field(30.0, ge=0, le=86400)
    """How long an inbox must hold messages with no consumer before the hub logs
    queue_without_consumer: agencies that connect a little after their first documents arrive
    are no alarm."""
    stats_utc_offset_hours: int = Field(7, ge=-12, le=14)
    """Statistics are attributed to days in this offset from UTC; Vietnam is UTC+7."""

    @field_validator("trusted_users", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(user.strip() for user in value.split(",") if user.strip())
        return value
