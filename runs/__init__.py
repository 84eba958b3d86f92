"""Runs of the whole system: replays of national traffic and load tests, each with its hub
(embedded, or one already running), its agencies in a process of their own, and its report.
Shared by ``dochub simulate``, ``dochub loadtest`` and the benchmarks; the CLI only parses and
prints."""
