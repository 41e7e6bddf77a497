"""Test fixtures for other projects: real hptd targets on loopback, started and stopped around a test,
with faults injected on demand (docs/testing.md). hptd runs as a process and is reached through its
control socket only; the pytest plugin is :mod:`hpt.testing.plugin` (entry point ``pytest11``)."""
