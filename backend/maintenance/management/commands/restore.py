"""manage.py restore ARCHIVE [--check]: see backend/maintenance/restore.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.maintenance.archive import ArchiveError
from backend.maintenance.restore import archive_verify, backup_restore


class Command(BaseCommand):
    help = "Restore a backup archive into an empty installation, then verify the audit chain and the counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path)
        parser.add_argument(
            "--check", action="store_true", help="only check the archive (decrypt, authenticate, hashes)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["archive"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        try:
            if options["check"]:
                manifest = archive_verify(path)
                self.stdout.write(
                    f"archive OK: made {manifest['created_at']}, install {manifest['install_id']}, "
                    f"{len(manifest['files'])} files, audit head {manifest['audit_head']['sequence']}"
                )
                return
            result = backup_restore(path)
        except ArchiveError as error:
            raise CommandError(f"restore refused: {error}") from None
        self.stdout.write(f"restored {path} in {result.seconds:.1f} s")
        self.stdout.write(result.chain.one_line())
        self.stdout.write("row counts match the manifest: " + ", ".join(f"{k} {v}" for k, v in result.counts.items()))
        purged = {kind: r["removed"] for kind, r in result.retention.items() if r.get("removed")}
        self.stdout.write(f"retention applied after restore: {purged or 'nothing had lapsed'}")
        self.stdout.write(
            "next: put the audit signing key back (backed up apart) before celery beat signs a checkpoint"
        )
