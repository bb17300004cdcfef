"""manage.py backup [--out DIR] [--prune] [--create-key]: see backend/maintenance/backup.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.maintenance.archive import ArchiveError, key_create
from backend.maintenance.backup import backup_create, backup_prune, backup_retention_days


class Command(BaseCommand):
    help = "Write one consistent, encrypted backup archive (database, enrolled photos, audit checkpoints)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, help="folder of the archive (default BACKUP_DIR)")
        parser.add_argument("--prune", action="store_true", help="then delete archives older than the retention")
        parser.add_argument("--create-key", action="store_true", help="create the key file first (never overwrites)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["create_key"]:
                key_create(Path(settings.BACKUP_KEY_PATH))
                self.stdout.write(f"backup key created: {settings.BACKUP_KEY_PATH} (copy it somewhere safe, apart)")
            result = backup_create(out_dir=options["out"])
            counts = result.manifest["counts"]
            self.stdout.write(
                f"backup written: {result.path} ({result.size:,} bytes, {result.seconds:.1f} s; "
                f"{len(result.manifest['files'])} files, {counts['audit.AuditEvent']} audit events, "
                f"{counts['watchlists.Subject']} listings, {counts['alerts.Alert']} alerts; "
                f"install {result.manifest['install_id']})"
            )
            for missing in result.manifest["missing_files"]:
                self.stderr.write(f"warning: {missing} was gone from disk (purged while the backup ran?)")
            if options["prune"]:
                removed = backup_prune(out_dir=options["out"])
                self.stdout.write(f"pruned {len(removed)} archive(s) older than {backup_retention_days()} days")
        except ArchiveError as error:
            raise CommandError(str(error)) from None
