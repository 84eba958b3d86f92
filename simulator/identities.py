"""Keys and the agency directory of a simulated population.

Simulated keys are derived from the scenario seed and the agency id (and the hub's from the seed
and ``hub``), so an external hub can be given the same directory and key the replay uses
(``dochub simulate --export-registry``). Anyone who knows the seed can sign as a simulated agency
or as the simulated hub: these keys are for replays, never for real agencies or hubs.

For the same reason the simulated agencies share one broker user, which the replay's hub trusts
to publish for any of them (``trusted_users``): a broker user per agency would prove nothing when
their signing keys are public, and the replay would need the management plugin to run.
"""

import hashlib
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.directory import AgencyDirectory, AgencyEntry, HubEntry
from schemas.keys import public_key_to_text
from simulator.scenario import Scenario

SIMULATED_HUB = "hub"
_DOCUMENT_IDS = uuid.UUID("0b9f5c1e-7a43-4c1b-8f0e-2d6a9e4b7c21")


def simulation_key(seed: int, agency_id: str) -> Ed25519PrivateKey:
    material = hashlib.sha256(f"dochub-simulation:{seed}:{agency_id}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(material)


def simulation_directory(scenario: Scenario, seed: int) -> AgencyDirectory:
    return AgencyDirectory(
        hub=HubEntry(
            name="DocHub (simulated)",
            public_key=public_key_to_text(simulation_key(seed, SIMULATED_HUB).public_key()),
        ),
        agencies=[
            AgencyEntry.for_key(
                agency.id, agency.name, agency.kind, simulation_key(seed, agency.id).public_key()
            )
            for agency in scenario.agencies
        ],
    )


def document_id(run_id: str, index: int) -> uuid.UUID:
    """The id of the ``index``-th planned document of the replay ``run_id``."""
    return uuid.uuid5(_DOCUMENT_IDS, f"{run_id}:{index}")
