"""The CLI's logging setup; it lives in ``hub.logs``, where the child processes of a run, which
never import the CLI, reach it too."""

from hub.logs import configure_logging

__all__ = ["configure_logging"]
