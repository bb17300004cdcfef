from django.core.management.base import BaseCommand

from backend.cameras.seed_zones import PUNE_ZONES
from backend.cameras.services import zone_seed


class Command(BaseCommand):
    help = "Create the Pune police-station zones that are missing (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        created = zone_seed(zones=PUNE_ZONES)
        self.stdout.write(f"zones: {created} created, {len(PUNE_ZONES) - created} already present")
