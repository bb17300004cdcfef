"""Bulk import of listings from a CSV and a folder (or zip) of photos, with a progress bar and a
report of every rejected row or photo and why.

    manage.py watchlist_import --watchlist 3 --csv subjects.csv --photos ./photos --user officer1
    manage.py watchlist_import --watchlist 3 --zip import.zip --user officer1 [--report rejected.csv]

If the inference service goes away mid-run the command stops, says how many rows are imported,
and `--skip-rows N` continues from there.
"""

from __future__ import annotations

import csv
import sys
import zipfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from backend.accounts.models import User
from backend.accounts.roles import Role
from backend.core.errors import ApplicationError, ServiceUnavailable
from backend.watchlists import services
from backend.watchlists.importer import (
    FolderPhotos,
    ImportReport,
    PhotoSource,
    ZipPhotos,
    archive_open,
    csv_rows,
    import_rows,
)
from backend.watchlists.models import Watchlist

# The roles that may create listings (as in the API's permission matrix).
IMPORTING_ROLES = (Role.OFFICER, Role.SUPERVISOR)


class Command(BaseCommand):
    help = "Import listings (pending approval) with their photos into a watchlist."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--watchlist", type=int, required=True, help="watchlist id")
        parser.add_argument("--user", required=True, help="the officer or supervisor the listings are created by")
        parser.add_argument("--csv", type=Path, help="subjects.csv (with --photos)")
        parser.add_argument("--photos", type=Path, help="folder of the photos the CSV names")
        parser.add_argument("--zip", type=Path, help="zip holding subjects.csv and the photos")
        parser.add_argument("--report", type=Path, help="write the rejected rows/photos to this CSV")
        parser.add_argument(
            "--skip-rows", type=int, default=0, help="skip this many subject rows (to continue a run that stopped)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        watchlist = Watchlist.objects.select_related("zone").filter(pk=options["watchlist"]).first()
        if watchlist is None:
            raise CommandError(f"No watchlist with id {options['watchlist']}.")
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {options['user']!r}.")
        if user.role not in IMPORTING_ROLES:
            raise CommandError(f"{user.username} is not an officer or supervisor; only they create listings.")
        try:
            services.zone_check(actor=user, zone=watchlist.zone)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        if options["skip_rows"] < 0:
            raise CommandError("--skip-rows cannot be negative.")
        rows, photos = self._input(options)
        report = ImportReport(processed_rows=options["skip_rows"])
        try:
            self._run(rows, watchlist, photos, user, report, start=options["skip_rows"])
        except ServiceUnavailable as exc:
            self._summary(report, options["report"])
            raise CommandError(
                f"Stopped at row {report.processed_rows + 2}: {exc.message} The rows before it are imported; "
                f"run again with --skip-rows {report.processed_rows} to continue."
            ) from None
        self._summary(report, options["report"])

    def _input(self, options: dict[str, Any]) -> tuple[list[dict[str, str]], PhotoSource]:
        if options["zip"] and (options["csv"] or options["photos"]):
            raise CommandError("Give --zip, or --csv with --photos, not both.")
        try:
            if options["zip"]:
                archive, rows = archive_open(options["zip"].read_bytes())
                return rows, ZipPhotos(archive, limit=settings.UPLOAD_MAX_BYTES)
            if options["csv"] and options["photos"]:
                if not options["photos"].is_dir():
                    raise CommandError(f"{options['photos']} is not a folder.")
                rows = csv_rows(options["csv"].read_text(encoding="utf-8"))
                return rows, FolderPhotos(options["photos"], limit=settings.UPLOAD_MAX_BYTES)
        except (OSError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
            raise CommandError(f"Cannot read the input: {exc}") from None
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        raise CommandError("Give --zip, or --csv with --photos.")

    def _run(
        self,
        rows: list[dict[str, str]],
        watchlist: Watchlist,
        photos: PhotoSource,
        user: User,
        report: ImportReport,
        *,
        start: int,
    ) -> None:
        columns = [TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
        # The bar goes to stderr, so that stdout carries only the summary and the rejections.
        console = Console(stderr=True)
        with Progress(*columns, console=console, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task("rows", total=len(rows), completed=min(start, len(rows)))
            import_rows(
                rows=rows,
                watchlist=watchlist,
                photos=photos,
                actor=user,
                start=start,
                report=report,
                on_row=lambda current: progress.update(task, completed=current.processed_rows),
            )

    def _summary(self, report: ImportReport, report_path: Path | None) -> None:
        self.stdout.write(
            f"{report.subjects_created} listings created (pending approval), {report.photos_enrolled} photos enrolled, "
            f"{len(report.rejected)} rejections, {report.processed_rows}/{report.total_rows} rows read."
        )
        for item in report.rejected:
            where = f"row {item['row']}" + (f", {item['photo']}" if item["photo"] else "")
            self.stdout.write(f"  rejected {where}: {item['code']}: {item['message']}")
        if report_path is not None:
            with report_path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=["row", "photo", "code", "message"])
                writer.writeheader()
                writer.writerows(report.rejected)
            self.stdout.write(f"Rejections written to {report_path}.")
