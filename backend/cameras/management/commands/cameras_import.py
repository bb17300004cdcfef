from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.cameras import io
from backend.cameras.services import cameras_import
from backend.core.errors import ApplicationError


class Command(BaseCommand):
    help = "Create or update cameras by code from a CSV or GeoJSON file, all or nothing. Audited."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="CSV or GeoJSON file")

    def handle(self, *args: object, **options: object) -> None:
        path = Path(str(options["path"]))
        try:
            kind, rows = io.rows_read(path.read_bytes())
            counts = cameras_import(rows=rows, actor=None, source=f"{kind.value} file {path.name}")
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from None
        except ApplicationError as error:
            for problem in error.extra.get("errors", []):  # type: ignore[attr-defined]
                self.stderr.write(f"row {problem['row']} {problem['column']}: {problem['message']}")
            raise CommandError(error.message) from None
        self.stdout.write(
            f"{counts['rows']} rows: {counts['created']} created, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged"
        )
