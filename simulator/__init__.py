"""Simulated agencies and national-traffic scenarios for replays through a DocHub hub."""
