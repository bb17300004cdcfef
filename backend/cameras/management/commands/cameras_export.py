import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from backend.audit.services import audit_record_system
from backend.cameras import io
from backend.cameras.models import Camera


class Command(BaseCommand):
    help = "Write the camera registry as CSV or GeoJSON (no stream URLs). Audited."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=[f.value for f in io.ExportFormat], default=io.ExportFormat.CSV.value)
        parser.add_argument("--output", help="file to write (default: standard output)")

    def handle(self, *args: object, **options: object) -> None:
        kind = io.ExportFormat(str(options["format"]))
        rows = list(io.export_rows(Camera.objects.all()))
        body = io.csv_write(rows) if kind == io.ExportFormat.CSV else json.dumps(io.geojson_write(rows), indent=1)
        audit_record_system(
            action="camera.export", object_type="camera", summary={"format": kind.value, "count": len(rows)}
        )
        output = options.get("output")
        if output:
            Path(str(output)).write_text(body, encoding="utf-8")
            self.stderr.write(f"{len(rows)} cameras written to {output}")
        else:
            sys.stdout.write(body)
