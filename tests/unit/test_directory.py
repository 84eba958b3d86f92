"""The agency directory, its TOML form, and the hub's registry loaded from it."""

import re
import tomllib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from hub.errors import ConfigurationError, RegistryError
from hub.registry import Registry, load_registry
from schemas import (
    HUB_SIGNER,
    AgencyDirectory,
    AgencyEntry,
    AgencyKind,
    HubEntry,
    public_key_to_text,
    thumbprint,
)


def new_key_text() -> str:
    return public_key_to_text(Ed25519PrivateKey.generate().public_key())


def entry(agency_id: str, name: str = "Bộ Nội vụ", key: str | None = None) -> AgencyEntry:
    return AgencyEntry(
        id=agency_id, name=name, kind=AgencyKind.MINISTRY, public_key=key or new_key_text()
    )


def directory(*names: str, hub: HubEntry | None = None) -> AgencyDirectory:
    return AgencyDirectory(
        hub=hub, agencies=[entry(f"000.00.00.G{n:02d}", name) for n, name in enumerate(names, 1)]
    )


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Bộ Nội vụ", id="Vietnamese"),
        pytest.param("Ủy ban nhân dân tỉnh Thừa Thiên Huế", id="Vietnamese 2"),
        pytest.param('Sở "Tài chính"', id="double quotes"),
        pytest.param("Văn phòng 'Trung ương'", id="single quotes"),
        pytest.param("C:\\vanban\\new", id="backslashes"),
        pytest.param('\\"', id="backslash quote"),
        pytest.param("'''\"\"\"", id="triple quotes"),
        pytest.param("a = 1\n[[agencies]]", id="TOML inside a name"),
        pytest.param("tab\tnewline\nreturn\r", id="white space escapes"),
        pytest.param("bell\x07 unit separator\x1f", id="control characters"),
        pytest.param("delete\x7f", id="DEL character"),
        pytest.param("emoji 📄 and \u2028 separator", id="other unicode"),
    ],
)
def test_toml_round_trip(name: str) -> None:
    original = directory(name, "Tỉnh Hà Giang")
    text = original.to_toml()
    again = AgencyDirectory.from_toml(text)
    assert again == original
    assert again.agencies[0].name == name


@pytest.mark.parametrize(
    "name", ["DocHub", 'Trục "liên thông" \\ quốc gia', "a = 1\n[[agencies]]", "delete\x7f"]
)
def test_toml_round_trip_with_the_hub(name: str) -> None:
    original = directory("Bộ Nội vụ", hub=HubEntry(name=name, public_key=new_key_text()))
    again = AgencyDirectory.from_toml(original.to_toml())
    assert again == original
    assert again.hub is not None
    assert again.hub.name == name


def test_toml_has_the_documented_shape() -> None:
    key = new_key_text()
    text = AgencyDirectory(agencies=[entry("000.00.00.G12", "Bộ Nội vụ", key)]).to_toml()
    assert text == (
        'schema_version = "2.0"\n'
        "\n"
        "[[agencies]]\n"
        'id = "000.00.00.G12"\n'
        'name = "Bộ Nội vụ"\n'
        'kind = "ministry"\n'
        f'public_key = "{key}"\n'
    )
    assert tomllib.loads(text)["agencies"][0]["name"] == "Bộ Nội vụ"


def test_toml_with_the_hub_has_the_documented_shape() -> None:
    key, hub_key = new_key_text(), new_key_text()
    text = AgencyDirectory(
        hub=HubEntry(public_key=hub_key), agencies=[entry("000.00.00.G12", "Bộ Nội vụ", key)]
    ).to_toml()
    assert text == (
        'schema_version = "2.0"\n'
        "\n"
        "[hub]\n"
        'name = "DocHub"\n'
        f'public_key = "{hub_key}"\n'
        "\n"
        "[[agencies]]\n"
        'id = "000.00.00.G12"\n'
        'name = "Bộ Nội vụ"\n'
        'kind = "ministry"\n'
        f'public_key = "{key}"\n'
    )
    assert tomllib.loads(text)["hub"] == {"name": "DocHub", "public_key": hub_key}


def test_a_directory_without_the_hub_has_no_hub_table() -> None:
    built = directory("A")
    assert built.hub is None
    assert "[hub]" not in built.to_toml()
    assert AgencyDirectory.from_toml(built.to_toml()).hub is None


def test_empty_directory_round_trip() -> None:
    assert AgencyDirectory.from_toml(AgencyDirectory().to_toml()) == AgencyDirectory()


def test_lookups_by_id_and_key_id() -> None:
    built = directory("A", "B")
    second = built.agencies[1]
    assert built.by_id["000.00.00.G02"] is second
    assert built.by_key_id[second.key_id] is second
    assert second.key_id == thumbprint(second.verify_key)
    assert len(second.key_id) == 43


def test_key_owner_names_the_agency_or_the_hub() -> None:
    hub = HubEntry(public_key=new_key_text())
    built = directory("A", "B", hub=hub)
    second = built.agencies[1]
    assert built.key_owner(second.key_id) == ("000.00.00.G02", second.verify_key)
    assert built.key_owner(hub.key_id) == (HUB_SIGNER, hub.verify_key)
    assert HUB_SIGNER == "hub"
    assert built.key_owner(thumbprint(Ed25519PrivateKey.generate().public_key())) is None
    assert built.key_owner("") is None


def test_key_owner_without_a_hub_entry() -> None:
    built = directory("A")
    assert built.key_owner(built.agencies[0].key_id) == (
        "000.00.00.G01",
        built.agencies[0].verify_key,
    )
    assert built.key_owner(thumbprint(Ed25519PrivateKey.generate().public_key())) is None


def test_a_directory_contains_its_agencies_only() -> None:
    built = directory("A", hub=HubEntry(public_key=new_key_text()))
    assert "000.00.00.G01" in built
    assert "000.00.00.G02" not in built
    assert HUB_SIGNER not in built
    assert None not in built


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("agency 000.00.00.G01 is listed more than once")
    ):
        AgencyDirectory(agencies=[entry("000.00.00.G01"), entry("000.00.00.G01", "Khác")])


def test_shared_public_key_is_refused() -> None:
    key = new_key_text()
    with pytest.raises(
        ValidationError,
        match=re.escape("agency 000.00.00.H01 shares its public key with another agency"),
    ):
        AgencyDirectory(agencies=[entry("000.00.00.G01", key=key), entry("000.00.00.H01", key=key)])


def test_an_agency_may_not_share_the_hubs_key() -> None:
    key = new_key_text()
    with pytest.raises(
        ValidationError,
        match=re.escape(
            "agency 000.00.00.G01 shares its public key with another agency or the hub"
        ),
    ):
        AgencyDirectory(hub=HubEntry(public_key=key), agencies=[entry("000.00.00.G01", key=key)])


def test_invalid_hub_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="32 bytes, not 3"):
        HubEntry(public_key="QUJD")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        pytest.param("not a key!", "base64 of 32 raw Ed25519 bytes", id="not base64"),
        pytest.param("QUJD", "32 bytes, not 3", id="short"),
    ],
)
def test_invalid_public_key_is_refused(key: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        entry("000.00.00.G01", key=key)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("id", "000.00.00.g01", "should match pattern"),
        ("kind", "army", "Input should be 'ministry'"),
        ("name", "", "at least 1 character"),
    ],
)
def test_invalid_entry_fields_are_refused(field: str, value: str, message: str) -> None:
    data = {"id": "000.00.00.G01", "name": "A", "kind": "ministry", "public_key": new_key_text()}
    data[field] = value
    with pytest.raises(ValidationError, match=message):
        AgencyEntry.model_validate(data)


# The hub's registry


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agencies.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_registry(tmp_path: Path) -> None:
    built = directory("Bộ Nội vụ", "Tỉnh Hà Giang")
    registry = load_registry(write(tmp_path, built.to_toml()))
    assert len(registry) == 2
    assert registry.agency_ids == ["000.00.00.G01", "000.00.00.G02"]
    assert "000.00.00.G02" in registry
    assert "000.00.00.G03" not in registry
    assert registry.get("000.00.00.G03") is None
    second = built.agencies[1]
    found = registry.get("000.00.00.G02")
    assert found is not None
    assert found.name == "Tỉnh Hà Giang"
    assert registry.key_owner(second.key_id) == ("000.00.00.G02", second.verify_key)
    assert registry.key_owner(thumbprint(Ed25519PrivateKey.generate().public_key())) is None


def test_the_registry_does_not_own_the_hubs_key(tmp_path: Path) -> None:
    """Nothing the hub receives may be signed by the hub's own key."""
    hub = HubEntry(public_key=new_key_text())
    built = directory("A", hub=hub)
    registry = load_registry(write(tmp_path, built.to_toml()))
    assert registry.directory.hub == hub
    assert built.key_owner(hub.key_id) is not None
    assert registry.key_owner(hub.key_id) is None
    assert HUB_SIGNER not in registry
    assert registry.key_owner(built.agencies[0].key_id) == (
        "000.00.00.G01",
        built.agencies[0].verify_key,
    )


def test_registry_from_directory() -> None:
    registry = Registry(directory("A"))
    assert registry.agency_ids == ["000.00.00.G01"]


def test_missing_registry_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(RegistryError, match=re.escape(f"cannot read the agency registry {path}")):
        load_registry(path)


def test_registry_path_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=re.escape(str(tmp_path))):
        load_registry(tmp_path)


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        pytest.param("schema_version = \n", "Invalid value", id="invalid TOML"),
        pytest.param('[[agencies]]\nid = "x\n', "Illegal character", id="unterminated string"),
        pytest.param(
            '[[agencies]]\nid = "G12"\nname = "A"\nkind = "ministry"\npublic_key = "QUJD"\n',
            "agencies.0.id: String should match pattern",
            id="invalid content",
        ),
        pytest.param('schema_version = "1.0"\n', "schema_version: Input should be '2.0'", id="v1"),
        pytest.param('[hub]\npublic_key = "QUJD"\n', "hub.public_key: Value error", id="hub key"),
        pytest.param('[hub]\nname = "DocHub"\n', "hub.public_key: Field required", id="no hub key"),
        pytest.param("[[agencies]]\n", "agencies.0.id: Field required", id="empty entry"),
        pytest.param('owner = "x"\n', "owner: Extra inputs are not permitted", id="extra key"),
    ],
)
def test_invalid_registry_file(tmp_path: Path, text: str, detail: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RegistryError, match=re.escape(f"the agency registry {path} is invalid")):
        load_registry(path)
    with pytest.raises(RegistryError, match=re.escape(detail)):
        load_registry(path)


def test_registry_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "agencies.toml"
    path.write_bytes('name = "Bộ"'.encode("utf-16"))
    with pytest.raises(RegistryError, match=re.escape(str(path))):
        load_registry(path)


EMPTY_REGISTRIES = [
    'schema_version = "2.0"\n',
    "",
    "agencies = []\n",
    f'[hub]\npublic_key = "{new_key_text()}"\n',
]


@pytest.mark.parametrize("text", EMPTY_REGISTRIES)
def test_empty_registry(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RegistryError, match=re.escape(f"the agency registry {path} lists no")):
        load_registry(path)


@pytest.mark.parametrize("text", EMPTY_REGISTRIES)
def test_empty_registry_when_agencies_are_not_required(tmp_path: Path, text: str) -> None:
    registry = load_registry(write(tmp_path, text), require_agencies=False)
    assert len(registry) == 0
    assert registry.agency_ids == []


def test_registry_error_is_a_configuration_error() -> None:
    assert issubclass(RegistryError, ConfigurationError)
