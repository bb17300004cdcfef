import time

from django.core.management.base import BaseCommand, CommandParser

from backend.cameras.models import Camera
from backend.cameras.seed import DEFAULT_COUNT, DEFAULT_RNG_SEED, cameras_seed
from backend.zones.models import Zone


class Command(BaseCommand):
    help = "Create the zones and the 2,880 seeded Pune cameras that are missing (idempotent, deterministic)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="cameras to seed (default 2880)")
        parser.add_argument("--rng-seed", type=int, default=DEFAULT_RNG_SEED, help="seed of the scatter")

    def handle(self, *args: object, **options: object) -> None:
        started = time.monotonic()
        zones_before = Zone.objects.count()
        created = cameras_seed(count=options["count"], rng_seed=options["rng_seed"])  # type: ignore[arg-type]
        self.stdout.write(
            f"zones: {Zone.objects.count() - zones_before} created, {Zone.objects.count()} in all; "
            f"cameras: {created} created, {Camera.objects.count()} in all "
            f"({time.monotonic() - started:.1f} s)"
        )
