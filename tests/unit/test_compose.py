"""docker-compose.yml and deploy/ held to the real settings and command line.

Docker has no engine where the tests run, so no container starts here: the files are parsed, and
every variable, command, path, port and health check in them is checked against what the code
accepts. The init service's command runs for real, on folders standing in for its volumes, and
the hub's image is built as a wheel from the same build context Docker would send.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import typer.main
import yaml
from pydantic_settings import BaseSettings
from typer.core import TyperGroup
from typer.testing import CliRunner

from agency_client import load_signing_key
from dochub.agency_settings import AgencySettings
from dochub.cli import app
from dochub.settings_io import ENV_PREFIX, variable_of
from hub.registry import load_registry
from hub.settings import HubSettings
from hub.sqlite_ledger import sqlite_path
from schemas.keys import public_key_to_text
from schemas.limits import MAX_MESSAGE_BYTES
from schemas.urls import broker_user, parse_amqp_url
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / "deploy" / "Dockerfile.dockerignore"
SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (HubSettings, AgencySettings)
HEALTH_PATHS = {"/readyz", "/healthz"}
PRODUCTION_NOFILE = 65536
"""About 3 file handles per quorum queue: 1,024 are gone at some 400 queues."""


@dataclass(frozen=True)
class Mount:
    source: str
    target: PurePosixPath
    read_only: bool

    @property
    def named_volume(self) -> bool:
        return not self.source.startswith((".", "/", "~"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


@pytest.fixture
def hub_settings(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The hub service's settings, loaded from its environment as the container loads them."""
    return settings_from_environment(HubSettings, environment_of(services["hub"]), monkeypatch)


def settings_from_environment(
    cls: type[BaseSettings], environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    for name in [name for name in os.environ if name.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return cls().model_dump()


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(str(item).split("=", 1) for item in environment)
    return {str(name): str(value) for name, value in environment.items()}


def mounts_of(service: dict[str, Any]) -> list[Mount]:
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            source, target = str(volume["source"]), str(volume["target"])
            read_only = bool(volume.get("read_only", False))
        else:
            source, target, *mode = str(volume).split(":")
            read_only = "ro" in ",".join(mode).split(",")
        mounts.append(Mount(source, PurePosixPath(target), read_only))
    return mounts


def in_volume(service: dict[str, Any], container_path: str | Path) -> tuple[str, PurePosixPath]:
    """The volume a container path lies on, and the path inside it."""
    path = PurePosixPath(container_path)
    for mount in sorted(mounts_of(service), key=lambda mount: -len(mount.target.parts)):
        if path.is_relative_to(mount.target):
            return mount.source, path.relative_to(mount.target)
    raise AssertionError(f"{path} is on no volume of the service, so it would not last")


def container_port(published: str | dict[str, Any]) -> int:
    if isinstance(published, dict):
        return int(published["target"])
    return int(str(published).rsplit(":", 1)[-1].split("/")[0])


def dochub_services(services: dict[str, dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, service in services.items():
        if command_of(service)[:1] == ["dochub"]:
            yield name, service


def parsed(arguments: list[str]) -> dict[str, Any]:
    """The parameters of ``dochub ...`` as the real command line parses them, unknown options,
    wrong types and choices included; nothing runs."""
    assert arguments[0] == "dochub"
    command: Any = typer.main.get_command(app)
    words = arguments[1:]
    path = ["dochub"]
    while isinstance(command, TyperGroup):
        assert words, f"{' '.join(path)} needs a subcommand"
        assert words[0] in command.commands, f"no command {' '.join([*path, words[0]])}"
        path.append(words[0])
        command, words = command.commands[words[0]], words[1:]
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for word in words:
        option = word.split("=", 1)[0]
        if option.startswith("--"):
            assert option in known, f"{' '.join(path)} has no option {option}"
    with command.make_context(" ".join(path), list(words)) as context:
        return dict(context.params)


def test_every_dochub_variable_is_a_setting(services: dict[str, dict[str, Any]]) -> None:
    for cls in SETTINGS_CLASSES:
        assert cls.model_config.get("env_prefix") == ENV_PREFIX
    known = {variable_of(field) for cls in SETTINGS_CLASSES for field in cls.model_fields}
    used = {
        (name, variable)
        for name, service in services.items()
        for variable in environment_of(service)
        if variable.startswith(ENV_PREFIX)
    }
    assert used, "no service sets a DOCHUB_ variable"
    unknown = sorted(f"{name}: {variable}" for name, variable in used if variable not in known)
    assert not unknown, f"not a setting of {[cls.__name__ for cls in SETTINGS_CLASSES]}: {unknown}"


def test_every_service_environment_loads_as_settings(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values too, not only names: a wrong namespace, port or log format fails here."""
    for _, service in dochub_services(services):
        settings_from_environment(HubSettings, environment_of(service), monkeypatch)


def test_every_dochub_command_parses(services: dict[str, dict[str, Any]]) -> None:
    commands = {name: command_of(service) for name, service in dochub_services(services)}
    assert {"init", "hub", "replay"} <= set(commands)
    for arguments in commands.values():
        parsed(arguments)
    image_command = re.search(r"^CMD\s+(\[.*\])\s*$", DOCKERFILE.read_text(), re.MULTILINE)
    assert image_command, f"{DOCKERFILE} has no CMD in JSON form"
    parsed(json.loads(image_command.group(1)))


def test_the_hub_listens_where_it_is_published_scraped_and_checked(
    services: dict[str, dict[str, Any]], hub_settings: dict[str, Any]
) -> None:
    assert "http_port" in HubSettings.model_fields, "HubSettings has no http_port yet"
    port = hub_settings["http_port"]
    # Other containers (Prometheus, the health check's neighbours) reach it on every interface.
    assert hub_settings["http_host"] == "0.0.0.0"  # noqa: S104
    hub = services["hub"]
    assert port in {container_port(published) for published in hub["ports"]}

    health = " ".join(command_of({"command": hub["healthcheck"]["test"]}))
    urls = re.findall(r"https?://(?:127\.0\.0\.1|localhost):(\d+)(/[\w/-]*)", health)
    assert urls, f"the hub's health check calls no local URL: {health}"
    for checked_port, path in urls:
        assert int(checked_port) == port
        assert path in HEALTH_PATHS

    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    scraped = [
        (job.get("metrics_path", "/metrics"), target)
        for job in prometheus["scrape_configs"]
        for config in job["static_configs"]
        for target in config["targets"]
    ]
    assert ("/metrics", f"hub:{port}") in scraped
    for _, target in scraped:
        assert target.split(":")[0] in services, f"{target}: no such service"


def test_services_start_once_what_they_need_is_ready(services: dict[str, dict[str, Any]]) -> None:
    rabbitmq_check = command_of({"command": services["rabbitmq"]["healthcheck"]["test"]})
    assert rabbitmq_check[1:] == ["rabbitmq-diagnostics", "-q", "ping"]
    assert services["hub"]["depends_on"] == {
        "rabbitmq": {"condition": "service_healthy"},
        "init": {"condition": "service_completed_successfully"},
    }
    assert services["replay"]["depends_on"]["hub"] == {"condition": "service_healthy"}
    for one_shot in ("init", "replay"):
        assert services[one_shot]["restart"] == "no"
    assert services["replay"]["profiles"], "the replay would run on every `docker compose up`"


def test_rabbitmq_refuses_messages_over_the_contracts_limit(
    services: dict[str, dict[str, Any]],
) -> None:
    configs = [
        mount
        for mount in mounts_of(services["rabbitmq"])
        if mount.target.suffix == ".conf"
        and mount.target.parent.parts[:3] == ("/", "etc", "rabbitmq")
    ]
    assert len(configs) == 1
    assert configs[0].target.parent.name in {"rabbitmq", "conf.d"}
    settings: dict[str, str] = {}
    for line in (ROOT / configs[0].source).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    assert int(settings["max_message_size"]) == MAX_MESSAGE_BYTES


def test_rabbitmq_has_file_handles_for_production(services: dict[str, dict[str, Any]]) -> None:
    nofile = services["rabbitmq"]["ulimits"]["nofile"]
    limits = [nofile] if isinstance(nofile, int) else [nofile["soft"], nofile["hard"]]
    assert all(int(limit) >= PRODUCTION_NOFILE for limit in limits)


def test_every_volume_is_declared_and_every_file_exists(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose["volumes"])
    used = set()
    for service in services.values():
        for mount in mounts_of(service):
            if mount.named_volume:
                used.add(mount.source)
            else:
                assert (ROOT / mount.source).is_file(), f"{mount.source} does not exist"
        if "build" in service:
            assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    assert used == declared


def test_the_hub_reads_the_registry_and_key_the_init_service_writes(
    services: dict[str, dict[str, Any]], hub_settings: dict[str, Any], tmp_path: Path
) -> None:
    """The init service's real command, run on folders standing in for its volumes."""
    init, hub = services["init"], services["hub"]
    on_host = {mount.target: tmp_path / mount.source for mount in mounts_of(init)}
    for folder in on_host.values():
        folder.mkdir()

    def host_path(argument: str) -> str:
        for target, folder in on_host.items():
            argument = argument.replace(str(target), str(folder))
        return argument

    done = CliRunner().invoke(app, [host_path(word) for word in command_of(init)[1:]])
    assert done.exit_code == 0, done.output

    exported = parsed(command_of(init))["export_registry"]
    registry_file = in_volume(hub, hub_settings["registry"])
    key_file = in_volume(hub, hub_settings["hub_key"])
    assert in_volume(init, exported) == registry_file
    registry = load_registry(tmp_path / registry_file[0] / registry_file[1])
    key = load_signing_key(tmp_path / key_file[0] / key_file[1])
    assert registry.directory.hub is not None
    assert registry.directory.hub.public_key == public_key_to_text(key.public_key())


def test_the_replay_runs_against_the_hub_as_an_external_replay_needs(
    services: dict[str, dict[str, Any]], hub_settings: dict[str, Any]
) -> None:
    """The same scenario and seed as the registry the hub loaded, the hub's namespace and ledger,
    a broker user the hub trusts, and days counted in the scenario's offset."""
    hub, replay = services["hub"], services["replay"]
    replay_options = parsed(command_of(replay))
    init_options = parsed(command_of(services["init"]))
    assert replay_options["hub"] == "external"
    assert replay_options["namespace"] == hub_settings["namespace"]
    for option in ("scenario", "seed"):
        assert replay_options[option] == init_options[option]

    ledger = in_volume(replay, sqlite_path(replay_options["ledger_url"]))
    assert ledger == in_volume(hub, sqlite_path(hub_settings["ledger_url"]))
    assert not next(mount for mount in mounts_of(replay) if mount.source == ledger[0]).read_only

    replay_url = replay_options["amqp_url"] or environment_of(replay)["DOCHUB_AMQP_URL"]
    assert broker_user(replay_url) in hub_settings["trusted_users"]
    broker, hub_broker = parse_amqp_url(replay_url), parse_amqp_url(hub_settings["amqp_url"])
    assert (broker.host, broker.port, broker.vhost) == (
        hub_broker.host,
        hub_broker.port,
        hub_broker.vhost,
    )
    assert broker.host in services
    scenario = load_scenario(replay_options["scenario"])
    assert hub_settings["stats_utc_offset_hours"] == scenario.utc_offset_hours


def test_the_image_gets_every_package_and_its_files(tmp_path: Path) -> None:
    """The wheel the Dockerfile installs, built from the context Docker sends: every package of
    pyproject.toml, with every file of it (the dashboard's static files too)."""
    rules = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    allowed = [line[1:].rstrip("/") for line in rules if line.startswith("!")]
    ignored = [line.removeprefix("**/") for line in rules if line.startswith("**/")]
    find = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    packages = [name.rstrip("*") for name in find["setuptools"]["packages"]["find"]["include"]]
    assert set(packages) <= set(allowed), "a package would be left out of the build context"

    files = [
        path.relative_to(ROOT).as_posix()
        for name in allowed
        for path in ([ROOT / name] if (ROOT / name).is_file() else (ROOT / name).rglob("*"))
        if path.is_file()
        and not any(fnmatch(part, rule) for part in path.parts for rule in ignored)
    ]
    context = tmp_path / "context"
    for name in files:
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, context / name)
    wheel_options = ["-q", "--no-deps", "--no-build-isolation", "--wheel-dir", tmp_path / "wheels"]
    built = subprocess.run(  # noqa: S603 - this Python's pip, fixed arguments
        [sys.executable, "-m", "pip", "wheel", *map(str, wheel_options), str(context)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "wheels").glob("*.whl")
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in files if name.split("/")[0] in packages and name not in in_wheel]
    assert not missing, f"not installed in the image (package-data in pyproject.toml?): {missing}"
