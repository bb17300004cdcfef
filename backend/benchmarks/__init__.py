"""Benchmarks: standalone scripts that print speed figures (`python -m backend.benchmarks.<name>`).

Tooling, not a Django app, on the top floor: it may import any app's public names, and no app
imports it."""
