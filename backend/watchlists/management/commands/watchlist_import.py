"""Bulk import of listings from a CSV and a folder (or zip) of photos, with a progress bar and a
report of every rejected row or photo and why.

    manage.py watchlist_import --watchlist 3 --csv subjects.csv --photos ./photos --user officer1
    manage.py watchlist_import --watchlist 3 --zip import.zip --user officer1 [--report rejected.csv]
"""

from __future__ import annotations

import csv
import sys
import zipfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from backend.accounts.models import User
from backend.core.errors import ApplicationError
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


class Command(BaseCommand):
    help = "Import listings (pending approval) with their photos into a watchlist."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--watchlist", type=int, required=True, help="watchlist id")
        parser.add_argument("--user", required=True, help="the officer the listings are created by")
        parser.add_argument("--csv", type=Path, help="subjects.csv (with --photos)")
        parser.add_argument("--photos", type=Path, help="folder of the photos the CSV names")
        parser.add_argument("--zip", type=Path, help="zip holding subjects.csv and the photos")
        parser.add_argument("--report", type=Path, help="write the rejected rows/photos to this CSV")

    def handle(self, *args: Any, **options: Any) -> None:
        watchlist = Watchlist.objects.select_related("zone").filter(pk=options["watchlist"]).first()
        if watchlist is None:
            raise CommandError(f"No watchlist with id {options['watchlist']}.")
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {options['user']!r}.")
        photos: PhotoSource
        try:
            if options["zip"]:
                archive, rows = archive_open(options["zip"].read_bytes())
                photos = ZipPhotos(archive, limit=settings.UPLOAD_MAX_BYTES)
            elif options["csv"] and options["photos"]:
                rows = csv_rows(options["csv"].read_text(encoding="utf-8"))
                photos = FolderPhotos(options["photos"], limit=settings.UPLOAD_MAX_BYTES)
            else:
                raise CommandError("Give --zip, or --csv with --photos.")
        except (OSError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
            raise CommandError(f"Cannot read the input: {exc}") from None
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        report = self._run(rows, watchlist, photos, user)
        self.stdout.write(
            f"{report.subjects_created} listings created (pending approval), {report.photos_enrolled} photos enrolled, "
            f"{len(report.rejected)} rejections, {report.processed_rows}/{report.total_rows} rows read."
        )
        for item in report.rejected:
            where = f"row {item['row']}" + (f", {item['photo']}" if item["photo"] else "")
            self.stdout.write(f"  rejected {where}: {item['code']}: {item['message']}")
        if options["report"]:
            with options["report"].open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=["row", "photo", "code", "message"])
                writer.writeheader()
                writer.writerows(report.rejected)

    def _run(self, rows: list[dict[str, str]], watchlist: Watchlist, photos: PhotoSource, user: User) -> ImportReport:
        columns = [TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
        with Progress(*columns, disable=not sys.stderr.isatty(), console=None) as progress:
            task = progress.add_task("rows", total=len(rows))
            return import_rows(
                rows=rows,
                watchlist=watchlist,
                photos=photos,
                actor=user,
                on_row=lambda report: progress.update(task, completed=report.processed_rows),
            )
