"""1:N identification on the shared datasets through the real path: enrolment service -> Triton ->
pgvector search, exactly as an officer's search by photo runs.

    manage.py watchlists_dataset_check [--datasets ../shared/datasets] [--leave-out 4]

Gallery: the first labelled, non-derived colour portrait of each identity (ORL's greyscale crops
are left out, as in the threshold calibration), except every `--leave-out`-th identity, whose
photos become non-mated probes (open set). Mated probes: every other portrait of an enrolled
identity. Reports rank-1, the true-positive identification rate (top candidate is the right person
and above the threshold) and the false-positive identification rate (any candidate above the
threshold for a person who is not listed).

Everything runs inside one transaction that is rolled back at the end (users, listings, templates
and their audit events disappear; the photo files written are deleted), so run it on a
development stack: the transaction holds the audit chain's lock while it runs.
"""

from __future__ import annotations

import csv
import secrets
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from backend.accounts.roles import Role
from backend.accounts.services import user_create
from backend.core.errors import ApplicationError
from backend.watchlists import services
from backend.watchlists.models import SubjectPhoto, Watchlist
from backend.zones.models import Zone

ALIASES = {("facenet_pytorch", "angelina_jolie"): ("deepface", "angelina")}


class _Rollback(Exception):
    pass


def portraits(datasets: Path) -> dict[tuple[str, str], list[Path]]:
    by_identity: dict[tuple[str, str], list[Path]] = defaultdict(list)
    with (datasets / "manifest.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["kind"] != "portrait" or not row["identity"] or row["notes"].startswith("DERIVED"):
                continue
            if row["dataset"] == "orl_faces":
                continue
            key = (row["dataset"], row["identity"])
            by_identity[ALIASES.get(key, key)].append(datasets / row["path"])
    return dict(sorted(by_identity.items()))


class Command(BaseCommand):
    help = "Measure 1:N identification on the shared datasets through enrolment and search (rolled back)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--datasets", type=Path, default=Path(settings.DATASETS_DIR))
        parser.add_argument("--leave-out", type=int, default=4, help="every Nth identity is not enrolled")

    def handle(self, *args: Any, **options: Any) -> None:
        if not (options["datasets"] / "manifest.csv").exists():
            raise CommandError(f"No manifest.csv in {options['datasets']}.")
        stored: list[SubjectPhoto] = []
        try:
            with transaction.atomic():
                self._run(portraits(options["datasets"]), max(2, options["leave_out"]), stored)
                raise _Rollback
        except _Rollback:
            pass
        finally:
            for photo in stored:
                services.photo_file_discard(photo)

    def _run(self, identities: dict[tuple[str, str], list[Path]], leave_out: int, stored: list[SubjectPhoto]) -> None:
        zone = Zone.objects.order_by("pk").first() or Zone.objects.create(
            code="eval", name="Evaluation", centre_lat=18.52, centre_lon=73.85
        )
        officer = user_create(
            username="dataset-check-officer", password=secrets.token_urlsafe(24), role=Role.OFFICER, zones=[zone]
        )
        supervisor = user_create(
            username="dataset-check-supervisor", password=secrets.token_urlsafe(24), role=Role.SUPERVISOR, zones=[zone]
        )
        watchlist = services.watchlist_create(
            actor=supervisor, zone=zone, name="Dataset check", category=Watchlist.Category.PERSON_OF_INTEREST
        )
        enrolled: dict[int, tuple[str, str]] = {}
        mated: list[tuple[Path, tuple[str, str]]] = []
        non_mated: list[Path] = []
        failed_enrolments: list[str] = []
        for index, (identity, paths) in enumerate(identities.items()):
            if index % leave_out == leave_out - 1:
                non_mated += paths
                continue
            subject = services.subject_create(
                actor=officer,
                watchlist=watchlist,
                full_name=":".join(identity),
                legal_basis="dataset check",
                expires_at=timezone.now() + timedelta(days=1),
            )
            try:
                stored.append(services.subject_photo_add(subject=subject, data=paths[0].read_bytes(), actor=officer))
            except ApplicationError as error:
                failed_enrolments.append(f"{paths[0].name}: {error.code}")
                continue
            services.subject_approve(subject=subject, actor=supervisor)
            enrolled[subject.pk] = identity
            mated += [(path, identity) for path in paths[1:]]
        self.stdout.write(
            f"gallery: {len(enrolled)} people enrolled ({len(failed_enrolments)} failed: {failed_enrolments}); "
            f"threshold {watchlist.match_threshold}"
        )
        rank1 = tpi = 0
        misses = []
        for path, identity in mated:
            best = self._best(path, officer)
            if best and enrolled.get(best["subject_id"]) == identity:
                rank1 += 1
                tpi += best["above_threshold"]
                if not best["above_threshold"]:
                    misses.append(f"{path.name}: right person below threshold ({best['score']:.3f})")
            else:
                got = f"{best['subject_name']} {best['score']:.3f}" if best else "no face/candidate"
                misses.append(f"{path.name}: {got}")
        false_alarms = []
        for path in non_mated:
            best = self._best(path, officer)
            if best and best["above_threshold"]:
                false_alarms.append(f"{path.name} -> {best['subject_name']} {best['score']:.3f}")
        self.stdout.write(
            f"mated probes: {len(mated)}; rank-1 {rank1 / len(mated):.3f}; "
            f"TPIR at threshold {tpi / len(mated):.3f} ({tpi}/{len(mated)})"
        )
        self.stdout.write(
            f"non-mated probes: {len(non_mated)}; FPIR at threshold "
            f"{len(false_alarms) / max(1, len(non_mated)):.4f} ({len(false_alarms)}/{len(non_mated)})"
        )
        for line in misses:
            self.stdout.write(f"  miss: {line}")
        for line in false_alarms:
            self.stdout.write(f"  false alarm: {line}")

    def _best(self, path: Path, officer: Any) -> dict[str, Any] | None:
        """The best candidate over the photo's faces (a portrait has one)."""
        try:
            result = services.photo_identify(data=path.read_bytes(), actor=officer, purpose="dataset check", k=1)
        except ApplicationError:
            return None
        candidates = [face["candidates"][0] for face in result["faces"] if face["candidates"]]
        return max(candidates, key=lambda c: c["score"], default=None)
