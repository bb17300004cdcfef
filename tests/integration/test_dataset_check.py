"""The dataset identification check runs the real path and leaves nothing behind."""

from __future__ import annotations

import csv
import io
import shutil

import pytest
from django.core.management import call_command

from backend.accounts.models import User
from backend.audit.models import AuditEvent
from backend.watchlists.models import Subject

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ROWS = [
    ("deepface", "deepface/img1.jpg", "angelina"),
    ("deepface", "deepface/img2.jpg", "angelina"),
    ("deepface", "deepface/img8.jpg", "deepface_c03"),
    ("deepface", "deepface/img9.jpg", "deepface_c03"),
    ("deepface", "deepface/img13.jpg", "deepface_c04"),
    ("deepface", "deepface/img14.jpg", "deepface_c04"),
]


def test_dataset_check_reports_and_rolls_back(tmp_path, datasets_dir, zones) -> None:  # type: ignore[no-untyped-def]
    with (tmp_path / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", "path", "identity", "kind", "notes"])
        for dataset, path, identity in ROWS:
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(datasets_dir / path, tmp_path / path)
            writer.writerow([dataset, path, identity, "portrait", ""])
    events_before = AuditEvent.objects.count()
    out = io.StringIO()
    call_command("watchlists_dataset_check", "--datasets", str(tmp_path), "--leave-out", "3", stdout=out)
    report = out.getvalue()
    # Identities in name order: angelina, c03 enrolled; c04 (the 3rd) left out as non-mated.
    assert "gallery: 2 people enrolled" in report
    assert "mated probes: 2; rank-1 1.000; TPIR at threshold 1.000 (2/2)" in report
    assert "non-mated probes: 2; FPIR at threshold 0.0000 (0/2)" in report
    assert not Subject.objects.exists() and not User.objects.filter(username__startswith="dataset-check").exists()
    assert AuditEvent.objects.count() == events_before
