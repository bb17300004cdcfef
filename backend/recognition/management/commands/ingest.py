"""manage.py ingest [--shard i/n]: read the cameras of one shard until SIGTERM or SIGINT.

Run n of these (on one machine or several) with shards 0/n .. n-1/n to split the cameras; each
camera belongs to the shard of its id modulo n."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.recognition.ingest import HEALTH_INTERVAL_S, RELOAD_INTERVAL_S, IngestWorker, shard_parse


class Command(BaseCommand):
    help = "Read camera streams (RTSP, HTTP snapshot, video files, composed demo frames) into recognition."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shard", default="0/1", help="which share of the cameras: index/count (default 0/1)")
        parser.add_argument(
            "--reload-interval", type=float, default=RELOAD_INTERVAL_S, help="seconds between reloads of the camera set"
        )
        parser.add_argument(
            "--health-interval", type=float, default=HEALTH_INTERVAL_S, help="seconds between health reports per camera"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            index, count = shard_parse(options["shard"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        if options["reload_interval"] <= 0 or options["health_interval"] <= 0:
            raise CommandError("intervals must be positive")
        worker = IngestWorker(
            index,
            count,
            reload_interval_s=options["reload_interval"],
            health_interval_s=options["health_interval"],
        )
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda _signum, _frame: worker.stop())
        worker.run()  # returns once stopped: camera threads joined, sources closed
