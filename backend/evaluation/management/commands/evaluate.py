"""Measure accuracy on the shared datasets through the real pipeline and store the report.

    manage.py evaluate images [--degrade cctv,low_light] [--quick 6] [--max-frames 40] [--no-orl]
    manage.py evaluate video  [--clips 6] [--clip-frames 60] [--video-every 5] [--max-video-frames 40]

`images`: verification, open-set 1:N (TPIR/FNIR at FPIR targets, rank-1, growth with the list's
size), splits by face size, data set, condition and quality, with 95% intervals; the non-mated score
tail that threshold calibration uses. `video`: replay of composed clips and street videos through the
live pipeline, pooled against single-frame decisions. Needs the stack running (Triton, PostgreSQL,
Redis); galleries and replays are rolled back, only the report is kept (and audited).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.accounts.models import User
from backend.evaluation.degrade import presets_parse
from backend.evaluation.image_eval import ImageEvalOptions, image_evaluation
from backend.evaluation.models import EvaluationReport
from backend.evaluation.render import report_html, report_markdown
from backend.evaluation.services import report_store
from backend.evaluation.video_eval import VideoEvalOptions, video_evaluation
from backend.faces.errors import InferenceError, InferenceUnavailable
from backend.faces.thresholds import DEFAULT_MATCH_THRESHOLD, MAX_MATCH_THRESHOLD, MIN_MATCH_THRESHOLD


class Command(BaseCommand):
    help = "Evaluate recognition accuracy on the shared datasets (real Triton and pgvector) and store the report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=["images", "video"])
        parser.add_argument("--datasets", type=Path, default=Path(settings.DATASETS_DIR))
        parser.add_argument("--threshold", type=float, default=DEFAULT_MATCH_THRESHOLD)
        parser.add_argument("--actor", help="username recorded as the one who ran it (default: the platform)")
        parser.add_argument("--title", default="")
        parser.add_argument("--out", type=Path, help="also write the report here: Markdown, HTML and the DET plot")
        images = parser.add_argument_group("images")
        images.add_argument("--degrade", default="cctv,low_light", help="degradation presets of the probes, or none")
        images.add_argument("--leave-out", type=int, default=4, help="every Nth identity is not enrolled")
        images.add_argument("--quick", type=int, default=None, help="at most N identities per set (a smoke run)")
        images.add_argument("--frame-every", type=int, default=1, help="every Nth frame of the stranger videos")
        images.add_argument("--max-frames", type=int, default=None, help="at most N frames per stranger video")
        images.add_argument("--no-orl", action="store_true")
        video = parser.add_argument_group("video")
        video.add_argument("--clips", type=int, default=6, help="composed clips")
        video.add_argument("--clip-frames", type=int, default=60, help="frames per composed clip")
        video.add_argument("--video-every", type=int, default=5, help="every Nth frame of recorded videos")
        video.add_argument("--max-video-frames", type=int, default=None)
        video.add_argument(
            "--thresholds",
            default="",
            help="comma-separated thresholds to replay at (default: the --threshold, 0.94, 0.96)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._handle(options)
        except (InferenceUnavailable, InferenceError) as error:
            # An evaluation with images silently missing would be wrong, not partial: stop, say why.
            raise CommandError(f"The evaluation stopped: {error.message} Nothing was stored.") from None
        except FileNotFoundError as error:
            raise CommandError(f"A data file is missing: {error}. Nothing was stored.") from None

    def _handle(self, options: dict[str, Any]) -> None:
        datasets: Path = options["datasets"]
        if not (datasets / "manifest.csv").exists():
            raise CommandError(f"No manifest.csv in {datasets}.")
        actor = None
        if options["actor"]:
            actor = User.objects.filter(username=options["actor"]).first()
            if actor is None:
                raise CommandError(f"No user named {options['actor']!r}.")
        started = time.monotonic()
        if options["kind"] == "images":
            try:
                degradations = presets_parse(options["degrade"])
            except ValueError as error:
                raise CommandError(str(error)) from None
            image_options = ImageEvalOptions(
                datasets=datasets,
                degradations=degradations,
                leave_out=max(2, options["leave_out"]),
                frame_every=max(1, options["frame_every"]),
                max_frames=options["max_frames"],
                max_identities=options["quick"],
                include_orl=not options["no_orl"],
                threshold=options["threshold"],
            )
            figures, data, png, model_version = image_evaluation(image_options, say=self._say)
            run_options = image_options.as_dict()
            title = options["title"] or (
                f"Images{' (quick)' if options['quick'] else ''}: portraits, "
                f"{', '.join(d.name for d in degradations) or 'no'} degradation, strangers from video"
            )
        else:
            video_options = VideoEvalOptions(
                datasets=datasets,
                composed_clips=options["clips"],
                composed_frames=options["clip_frames"],
                video_every=max(1, options["video_every"]),
                max_video_frames=options["max_video_frames"],
                thresholds=self._thresholds(options),
            )
            figures, data, model_version = video_evaluation(video_options, say=self._say)
            png, run_options = b"", video_options.as_dict()
            title = options["title"] or f"Video replay: {options['clips']} composed clips and street videos"
        report = report_store(
            kind=options["kind"],
            title=title,
            model_version=model_version,
            data=data,
            options=run_options,
            figures=figures,
            det_png=png,
            duration_s=time.monotonic() - started,
            actor=actor,
        )
        for goal in figures.get("goals", []):
            verdict = {True: "met", False: "NOT met", None: "not resolvable"}[goal["met"]]
            self._say(f"goal: {goal['goal']}: {verdict}; {goal['measured']}")
        self.stdout.write(f"report {report.pk} stored ({report.duration_s:.0f} s), sha256 {report.sha256}")
        if options["out"]:
            self._write(report, options["out"])

    def _write(self, report: EvaluationReport, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"evaluation-report-{report.pk}"
        stem.with_suffix(".md").write_text(report_markdown(report))
        stem.with_suffix(".html").write_text(report_html(report))
        written = [stem.with_suffix(".md"), stem.with_suffix(".html")]
        if report.det_png:
            stem.with_suffix(".png").write_bytes(bytes(report.det_png))
            written.append(stem.with_suffix(".png"))
        self.stdout.write("written: " + ", ".join(str(path) for path in written))

    def _thresholds(self, options: dict[str, Any]) -> tuple[float, ...]:
        if not options["thresholds"]:
            return tuple(dict.fromkeys((options["threshold"], 0.94, 0.96)))
        try:
            values = tuple(float(value) for value in options["thresholds"].split(","))
        except ValueError:
            raise CommandError("--thresholds takes numbers separated by commas, e.g. 0.92,0.94") from None
        if not all(MIN_MATCH_THRESHOLD <= value <= MAX_MATCH_THRESHOLD for value in values):
            raise CommandError(f"thresholds must lie between {MIN_MATCH_THRESHOLD} and {MAX_MATCH_THRESHOLD}")
        return values

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
