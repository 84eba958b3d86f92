"""The hub a whole-system run embeds: started, then stopped and its namespace deleted when the
run ends, on a failure and on SIGINT or SIGTERM too."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hub.service import Hub
from runs.namespace_lifecycle import delete_namespace, unstoppable


@asynccontextmanager
async def embedded_hub(hub: Hub) -> AsyncIterator[Hub]:
    """Start ``hub`` for the block; then stop it and delete its namespace, even if starting it
    failed or a signal cancels the run meanwhile."""
    try:
        await hub.start()
        yield hub
    finally:

        async def clean_up() -> None:
            try:
                await hub.stop()
            finally:
                await delete_namespace(
                    hub.settings.amqp_url,
                    hub.topology,
                    hub.registry.agency_ids,
                    hub.settings.connect_timeout_s,
                )

        await unstoppable(clean_up())
