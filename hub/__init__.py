"""The DocHub hub: topology, inspection, router, ledger, registry and throughput logs."""
