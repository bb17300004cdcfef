"""Re-enrolment after a model change: every stored photo gets a template of the model version the
inference service now serves. Resumable (photos that already have one are skipped, so a stopped run
simply starts again), with a progress bar; old versions' templates can be pruned afterwards.

    manage.py templates_reenrol            # make the missing templates
    manage.py templates_reenrol --prune    # then delete templates of every other model version
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from backend.core.errors import ApplicationError, ServiceUnavailable
from backend.watchlists.models import FaceTemplate, SubjectPhoto
from backend.watchlists.reenrol import serving_model_version, templates_prune
from backend.watchlists.services import photo_reenrol


class Command(BaseCommand):
    help = "Make templates of the serving model version for every stored photo (resumable)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--prune", action="store_true", help="then delete templates of other model versions")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            version = serving_model_version()
        except ServiceUnavailable as exc:
            raise CommandError(f"The inference service is not available: {exc.message}") from None
        self.stdout.write(f"serving model version: {version}")
        todo = SubjectPhoto.objects.exclude(templates__model_version=version).select_related("subject__watchlist__zone")
        total = todo.count()
        made, failed = 0, []
        columns = [TextColumn("re-enrolling"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
        with Progress(*columns, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task("photos", total=total)
            for photo in todo.order_by("pk").iterator(chunk_size=200):
                try:
                    if photo_reenrol(photo=photo) is not None:
                        made += 1
                except ServiceUnavailable as exc:
                    raise CommandError(f"Stopped ({exc.message}); run again to resume. {made} made so far.") from None
                except ApplicationError as exc:
                    failed.append((photo.pk, exc.code))
                progress.advance(task)
        self.stdout.write(f"{made} templates made; {len(failed)} photos gave no usable face under the new model.")
        for photo_id, code in failed:
            self.stdout.write(f"  photo {photo_id}: {code}")
        if options["prune"]:
            if failed:
                raise CommandError("Not pruning: some photos have no template of the new version (see above).")
            removed = templates_prune(keep_version=version)
            self.stdout.write(f"{removed} templates of other model versions deleted.")
        remaining = FaceTemplate.objects.exclude(model_version=version).count()
        if remaining:
            self.stdout.write(f"{remaining} templates of older versions remain (searches ignore them).")
