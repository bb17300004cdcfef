"""The embedded development stack: starts PostgreSQL+pgvector, Valkey, Triton, Celery and the
ASGI server as real processes on this machine, supervises them, and stops them all cleanly.

`make run` = `python -m backend.devstack run`; `make test` = `python -m backend.devstack test`.
Nothing here is imported by the Django project itself.
"""
