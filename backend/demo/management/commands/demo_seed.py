"""Seed the demo: a watchlist of dataset identities enrolled through Triton, demo cameras replaying
dataset media, and the standing demo operation (idempotent; see backend/demo/seed.py).

    manage.py demo_seed [--datasets ../shared/datasets]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.core.errors import ApplicationError
from backend.demo.seed import demo_seed


class Command(BaseCommand):
    help = "Enrol the demo watchlist from the face datasets, set up demo cameras and the demo operation."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--datasets", type=Path, default=Path(settings.DATASETS_DIR))

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = demo_seed(datasets_dir=options["datasets"])
        except ApplicationError as error:
            raise CommandError(f"demo seed failed: {error.message}") from None
        if not summary["seeded"]:
            self.stdout.write(self.style.WARNING(summary["message"]))
            return
        listings = summary["listings"]
        enrolled = sum(outcome in ("enrolled", "present") for outcome in listings.values())
        self.stdout.write(f"demo watchlist: {summary['watchlist']}; {enrolled}/{len(listings)} identities active")
        for key, outcome in listings.items():
            if outcome not in ("enrolled", "present"):
                self.stdout.write(self.style.WARNING(f"  {key}: {outcome}"))
        self.stdout.write("demo cameras: " + "; ".join(f"{code} {what}" for code, what in summary["cameras"].items()))
        self.stdout.write(f"demo operation: {summary['operation']}")
        if not summary["operation_covers_watchlist"]:
            self.stdout.write(
                self.style.WARNING("  the active demo operation does not search the demo watchlist: no demo alerts")
            )
