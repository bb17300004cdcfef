"""manage.py audit_verify: walk the audit chain and check it against the signed checkpoints.
One line on stdout (or the JSON report with --json); exit status 1 when the chain is broken."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit hash chain and its signed checkpoints; non-zero exit status when broken."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the full report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_chain_verify()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), sort_keys=True))
        if not report.ok:
            raise CommandError(report.one_line(), returncode=1)
        if not options["json"]:
            self.stdout.write(report.one_line())
