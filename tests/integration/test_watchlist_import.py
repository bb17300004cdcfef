"""Bulk import of listings against the real services: the management command with a folder and
with a zip, the API endpoint run by a real Celery worker, resuming a job, refusals of bad archives
at upload, and the role and zone checks. Photos are real ones from the datasets; few are enrolled,
since each costs the inference server about a second on a small machine."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from backend.accounts.models import User
from backend.accounts.roles import Role
from backend.audit.models import AuditEvent
from backend.faces.errors import InferenceUnavailable
from backend.faces.inference_client import InferenceClient
from backend.watchlists import services
from backend.watchlists.importer import FolderPhotos, ImportSuperseded, import_job_run, import_rows
from backend.watchlists.models import FaceTemplate, ImportJob, Subject, Watchlist
from backend.watchlists.tasks import import_run_task
from tests.conftest import free_port
from tests.factories import watchlist_make
from tests.otp_helpers import login_verified

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

COLUMNS = ["full_name", "legal_basis", "expires_at", "photos", "aliases", "case_reference", "captured_on", "source"]
LEGAL_BASIS = "CrPC s.41, warrant 12/2026"
JOB_TIMEOUT_S = 120

# One person in two photos, another person, two people in one photo, and no face at all.
PERSON_A = ("deepface/img16.jpg", "deepface/img17.jpg")
PERSON_B = "deepface/img12.jpg"
TWO_PEOPLE = "face_recognition/examples/two_people.jpg"
NO_FACE = "face_api_js/test/images/white.png"


def in_days(days: int) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


def subjects_csv(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({"legal_basis": LEGAL_BASIS, "expires_at": in_days(30)} | row)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def photo(datasets_dir: Path) -> Callable[[str], bytes]:
    return lambda path: (datasets_dir / path).read_bytes()


@pytest.fixture
def watchlist(users_by_role: dict[Role, User], zones: dict[str, Any]) -> Watchlist:
    return watchlist_make(zone=zones["north"], created_by=users_by_role[Role.SUPERVISOR])


def rejections(items: list[dict[str, Any]]) -> set[tuple[int, str, str]]:
    return {(int(item["row"]), item["photo"], item["code"]) for item in items}


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("watchlist_import", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def triton_away(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The inference service is down: a real client aimed at a port where nothing listens."""
    dead = InferenceClient(f"127.0.0.1:{free_port()}", timeout_s=2.0, retries=0)
    monkeypatch.setattr(services, "get_client", lambda: dead)
    yield monkeypatch
    dead.close()


def assert_enrolled(subject: Subject, *, photos: int, creator: User) -> None:
    assert subject.status == Subject.Status.PENDING
    assert subject.created_by == creator and subject.approved_by is None
    assert subject.photos.count() == photos
    assert FaceTemplate.objects.filter(subject=subject, watchlist=subject.watchlist).count() == photos
    for stored in subject.photos.all():
        assert Path(stored.image.path).is_file()


# ---------------------------------------------------------------- management command


def test_command_with_a_folder_imports_good_rows_and_reports_every_rejection(  # type: ignore[no-untyped-def]
    tmp_path, photo, watchlist, users_by_role
) -> None:
    officer = users_by_role[Role.OFFICER]
    folder = tmp_path / "photos"
    (folder / "b").mkdir(parents=True)
    (folder / "a1.jpg").write_bytes(photo(PERSON_A[0]))
    (folder / "a2.jpg").write_bytes(photo(PERSON_A[1]))
    (folder / "b" / "b.jpg").write_bytes(photo(PERSON_B))
    (folder / "group.jpg").write_bytes(photo(TWO_PEOPLE))
    (folder / "blank.png").write_bytes(photo(NO_FACE))
    (folder / "broken.jpg").write_bytes(photo(PERSON_B)[:4000])
    (folder / "notes.txt").write_text("not a photo")
    (tmp_path / "outside.jpg").write_bytes(photo(PERSON_B))
    csv_path = tmp_path / "subjects.csv"
    csv_path.write_text(
        subjects_csv(
            [
                {
                    "full_name": "Asha Rao",
                    "photos": "a1.jpg; a2.jpg",
                    "aliases": "A. Rao;Ashu",
                    "case_reference": "FIR 12/2026",
                    "captured_on": "2025-12-01",
                    "source": "station records",
                },
                {"full_name": "Group Photo", "photos": "group.jpg"},  # row 3
                {"full_name": "Blank Photo", "photos": "blank.png"},  # row 4
                {"full_name": "Missing Photo", "photos": "nothere.jpg"},  # row 5
                {"full_name": "Bad Date", "photos": "b/b.jpg", "expires_at": "2026-02-30"},  # row 6
                {"full_name": "Not A Photo", "photos": "notes.txt"},  # row 7
                {"full_name": "Escaping", "photos": "../outside.jpg"},  # row 8
                {"full_name": "Partly Good", "photos": "b/b.jpg;broken.jpg"},  # row 9
                {"full_name": "No Basis", "photos": "b/b.jpg", "legal_basis": ""},  # row 10
            ]
        )
    )

    output = run_command(
        "--watchlist", str(watchlist.pk), "--user", officer.username, "--csv", str(csv_path), "--photos", str(folder)
    )

    asha = Subject.objects.get(full_name="Asha Rao")
    assert_enrolled(asha, photos=2, creator=officer)
    assert asha.aliases == ["A. Rao", "Ashu"] and asha.case_reference == "FIR 12/2026"
    assert asha.expires_at.date() == timezone.localdate() + timedelta(days=30)
    assert {(str(p.captured_on), p.source) for p in asha.photos.all()} == {("2025-12-01", "station records")}
    assert_enrolled(Subject.objects.get(full_name="Partly Good"), photos=1, creator=officer)
    assert set(Subject.objects.values_list("full_name", flat=True)) == {"Asha Rao", "Partly Good"}
    expected = {
        (3, "group.jpg", "multiple_faces"),
        (3, "", "no_usable_photo"),
        (4, "blank.png", "no_face"),
        (4, "", "no_usable_photo"),
        (5, "nothere.jpg", "photo_missing"),
        (5, "", "no_usable_photo"),
        (6, "", "invalid_date"),
        (7, "notes.txt", "unsupported_type"),
        (7, "", "no_usable_photo"),
        (8, "../outside.jpg", "photo_missing"),
        (8, "", "no_usable_photo"),
        (9, "broken.jpg", "corrupt_image"),
        (10, "", "legal_basis_required"),
    }
    lines = [line.strip() for line in output.splitlines() if line.strip().startswith("rejected ")]
    assert len(lines) == len(expected)
    for row, name, code in expected:
        where = f"row {row}" + (f", {name}" if name else "")
        assert any(line.startswith(f"rejected {where}: {code}: ") for line in lines), (where, code, output)
    assert "2 listings created (pending approval), 3 photos enrolled, 13 rejections, 9/9 rows read." in output
    assert AuditEvent.objects.filter(action="subject.create", actor=officer).count() == 2
    assert AuditEvent.objects.filter(action="subject.photo_add", actor=officer).count() == 3


def test_command_with_a_zip_writes_the_report_csv(tmp_path, photo, watchlist, users_by_role) -> None:  # type: ignore[no-untyped-def]
    supervisor = users_by_role[Role.SUPERVISOR]
    archive = tmp_path / "import.zip"
    archive.write_bytes(
        zip_bytes(
            {
                "subjects.csv": subjects_csv(
                    [
                        {"full_name": "Zip Person", "photos": "photos/a.jpg"},
                        {"full_name": "Already Expired", "photos": "photos/a.jpg", "expires_at": "2020-01-01"},
                        {"full_name": "Broken", "photos": "photos/broken.jpg"},
                    ]
                ),
                "photos/a.jpg": photo(PERSON_A[0]),
                "photos/broken.jpg": photo(PERSON_A[0])[:5000],
            }
        )
    )
    report = tmp_path / "rejected.csv"

    output = run_command(
        "--watchlist", str(watchlist.pk), "--user", supervisor.username, "--zip", str(archive), "--report", str(report)
    )

    assert_enrolled(Subject.objects.get(), photos=1, creator=supervisor)
    assert Subject.objects.get().full_name == "Zip Person"
    with report.open(newline="") as handle:
        written = list(csv.DictReader(handle))
    assert rejections(written) == {
        (3, "", "expiry_in_past"),
        (4, "photos/broken.jpg", "corrupt_image"),
        (4, "", "no_usable_photo"),
    }
    assert all(item["message"] for item in written)
    assert "1 listings created (pending approval), 1 photos enrolled, 3 rejections, 3/3 rows read." in output


@pytest.mark.parametrize(
    ("who", "extra", "message"),
    [
        (Role.AUDITOR, [], "not an officer or supervisor"),
        ("south-officer", [], "zone you are not a member of"),
        (Role.OFFICER, ["--csv", "subjects.csv"], "not both"),
        (Role.OFFICER, ["--skip-rows", "-1"], "cannot be negative"),
    ],
)
def test_command_refuses_before_any_work(  # type: ignore[no-untyped-def]
    tmp_path, watchlist, users_by_role, make_user, who, extra, message
) -> None:
    user = make_user(Role.OFFICER, "south-officer", ("south",)) if who == "south-officer" else users_by_role[who]
    archive = tmp_path / "import.zip"
    archive.write_bytes(zip_bytes({"subjects.csv": subjects_csv([{"full_name": "X", "photos": "x.jpg"}])}))
    with pytest.raises(CommandError, match=message):
        run_command("--watchlist", str(watchlist.pk), "--user", user.username, "--zip", str(archive), *extra)
    assert not Subject.objects.exists()


def test_command_stops_when_triton_is_away_and_continues_with_skip_rows(  # type: ignore[no-untyped-def]
    tmp_path, photo, watchlist, users_by_role, triton_away
) -> None:
    officer = users_by_role[Role.OFFICER]
    (tmp_path / "a.jpg").write_bytes(photo(PERSON_A[0]))
    csv_path = tmp_path / "subjects.csv"
    csv_path.write_text(
        subjects_csv([{"full_name": "Missing", "photos": "nothere.jpg"}, {"full_name": "Later", "photos": "a.jpg"}])
    )
    report = tmp_path / "rejected.csv"
    args = ["--watchlist", str(watchlist.pk), "--user", officer.username, "--csv", str(csv_path)]
    args += ["--photos", str(tmp_path), "--report", str(report)]

    with pytest.raises(CommandError, match=r"^Stopped at row 3: .* run again with --skip-rows 1 to continue\.$"):
        run_command(*args)
    assert not Subject.objects.exists()
    with report.open(newline="") as handle:
        assert rejections(list(csv.DictReader(handle))) == {
            (2, "nothere.jpg", "photo_missing"),
            (2, "", "no_usable_photo"),
        }

    triton_away.undo()  # the inference service is back
    output = run_command(*args, "--skip-rows", "1")
    assert list(Subject.objects.values_list("full_name", flat=True)) == ["Later"]
    assert "1 listings created (pending approval), 1 photos enrolled, 0 rejections, 2/2 rows read." in output


def test_command_refuses_a_bad_archive(tmp_path, watchlist, users_by_role) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "import.zip"
    archive.write_bytes(zip_bytes({"people.csv": "full_name\n"}))
    with pytest.raises(CommandError, match=r"no subjects\.csv"):
        run_command(
            "--watchlist", str(watchlist.pk), "--user", users_by_role[Role.OFFICER].username, "--zip", str(archive)
        )


# ---------------------------------------------------------------- API + Celery worker


def wait_for_job(client: APIClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/imports/{job_id}/")
        assert response.status_code == 200, response.content
        body: dict[str, Any] = response.json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.5)
    pytest.fail(f"import {job_id} did not finish within {JOB_TIMEOUT_S} s: {body}")


@pytest.mark.django_db(transaction=True)  # the worker process must see the committed rows
def test_api_import_runs_in_the_worker_with_progress_and_audit(  # type: ignore[no-untyped-def]
    celery_worker, client_as, photo, watchlist, users_by_role
) -> None:
    officer = users_by_role[Role.OFFICER]
    archive = zip_bytes(
        {
            "subjects.csv": subjects_csv(
                [
                    {"full_name": "Api Person", "photos": "a1.jpg;a2.jpg"},
                    {"full_name": "Api Blank", "photos": "blank.png"},
                    {"full_name": "Api Bad Date", "photos": "a1.jpg", "expires_at": "next week"},
                ]
            ),
            "a1.jpg": photo(PERSON_A[0]),
            "a2.jpg": photo(PERSON_A[1]),
            "blank.png": photo(NO_FACE),
        }
    )
    client = client_as(Role.OFFICER)

    response = client.post(
        f"/api/v1/watchlists/{watchlist.pk}/import/",
        {"archive": SimpleUploadedFile("import.zip", archive, content_type="application/zip")},
        format="multipart",
    )

    assert response.status_code == 202, response.content
    queued = response.json()
    assert queued["status"] == "queued" and queued["total_rows"] == 3 and queued["processed_rows"] == 0
    assert queued["created_by"] == officer.username and queued["watchlist"] == watchlist.pk
    job = wait_for_job(client, queued["id"])
    assert job["status"] == "done" and job["error"] == ""
    assert (job["total_rows"], job["processed_rows"], job["subjects_created"], job["photos_enrolled"]) == (3, 3, 1, 2)
    assert rejections(job["rejected"]) == {
        (3, "blank.png", "no_face"),
        (3, "", "no_usable_photo"),
        (4, "", "invalid_date"),
    }
    assert job["finished_at"] is not None

    assert_enrolled(Subject.objects.get(full_name="Api Person"), photos=2, creator=officer)
    assert Subject.objects.count() == 1
    stored = ImportJob.objects.get(pk=queued["id"])
    assert not stored.archive  # the uploaded face photos are not kept once imported
    started = AuditEvent.objects.get(action="watchlist.import_start")
    assert started.actor == officer and started.object_id == queued["id"]
    assert started.summary == {"watchlist_id": watchlist.pk, "rows": 3}
    finished = AuditEvent.objects.get(action="watchlist.import_finish")
    assert finished.actor == officer and finished.object_id == queued["id"]
    assert finished.summary["status"] == "done" and finished.summary["rejected"] == 3
    assert finished.summary["subjects_created"] == 1 and finished.summary["photos_enrolled"] == 2
    created = AuditEvent.objects.get(action="subject.create")
    assert created.actor == officer and created.summary["after"]["full_name"] == "Api Person"
    assert created.summary["after"]["status"] == "pending"
    assert AuditEvent.objects.filter(action="subject.photo_add", actor=officer).count() == 2
    assert started.sequence < created.sequence < finished.sequence


# ---------------------------------------------------------------- resume and redelivery


def job_with_archive(watchlist: Watchlist, user: User, archive: bytes, **fields: Any) -> ImportJob:
    job = ImportJob(watchlist=watchlist, created_by=user, **fields)
    job.archive.save(f"{job.pk}.zip", ContentFile(archive), save=True)
    return job


def test_a_resumed_job_does_not_import_finished_rows_again(photo, watchlist, users_by_role) -> None:  # type: ignore[no-untyped-def]
    officer = users_by_role[Role.OFFICER]
    earlier = {"row": 2, "photo": "", "code": "invalid_date", "message": "from the first run"}
    job = job_with_archive(
        watchlist,
        officer,
        zip_bytes(
            {
                "subjects.csv": subjects_csv(
                    [{"full_name": "Row Two", "photos": "a.jpg"}, {"full_name": "Row Three", "photos": "a.jpg"}]
                ),
                "a.jpg": photo(PERSON_A[0]),
            }
        ),
        status=ImportJob.Status.RUNNING,  # the worker died after committing row 2
        total_rows=2,
        processed_rows=1,
        rejected=[earlier],
    )
    archive_path = Path(job.archive.path)

    result = import_job_run(job_id=job.pk)

    assert result["status"] == "done"
    assert list(Subject.objects.values_list("full_name", flat=True)) == ["Row Three"]
    job.refresh_from_db()
    assert (job.processed_rows, job.subjects_created, job.photos_enrolled) == (2, 1, 1)
    assert job.rejected == [earlier]
    assert job.status == ImportJob.Status.DONE and job.finished_at is not None
    assert not job.archive and not archive_path.exists()
    assert AuditEvent.objects.filter(action="watchlist.import_finish", object_id=str(job.pk)).count() == 1
    # A redelivered message for the finished job changes nothing.
    assert import_job_run(job_id=job.pk) == {"status": "done"}
    assert Subject.objects.count() == 1
    assert AuditEvent.objects.filter(action="watchlist.import_finish").count() == 1


def test_a_second_run_of_the_same_job_stops_at_a_row_the_first_committed(  # type: ignore[no-untyped-def]
    tmp_path, watchlist, users_by_role
) -> None:
    rows = [{"full_name": "Someone", "legal_basis": LEGAL_BASIS, "expires_at": in_days(30), "photos": "x.jpg"}]
    claimed: list[int] = []

    def refuse(index: int) -> bool:  # another run has committed this row already
        claimed.append(index)
        return False

    with pytest.raises(ImportSuperseded):
        import_rows(
            rows=rows,
            watchlist=watchlist,
            photos=FolderPhotos(tmp_path, limit=1024),
            actor=users_by_role[Role.OFFICER],
            claim_row=refuse,
        )
    assert claimed == [0] and not Subject.objects.exists()


def test_a_job_is_marked_failed_when_its_retries_are_used_up(photo, watchlist, users_by_role, triton_away) -> None:  # type: ignore[no-untyped-def]
    job = job_with_archive(
        watchlist,
        users_by_role[Role.OFFICER],
        zip_bytes(
            {"subjects.csv": subjects_csv([{"full_name": "Waiting", "photos": "a.jpg"}]), "a.jpg": photo(PERSON_B)}
        ),
        total_rows=1,
    )

    result = import_run_task.apply(args=[str(job.pk)], retries=import_run_task.max_retries)

    assert isinstance(result.result, InferenceUnavailable)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and job.processed_rows == 0
    assert job.error.startswith("The import stopped on an outage of the inference service or database after 0 rows")
    assert AuditEvent.objects.get(action="watchlist.import_finish").summary["status"] == "failed"
    assert not Subject.objects.exists()


def test_a_job_whose_archive_is_gone_fails_with_a_reason(watchlist, users_by_role) -> None:  # type: ignore[no-untyped-def]
    job = job_with_archive(watchlist, users_by_role[Role.OFFICER], b"placeholder", total_rows=1)
    Path(job.archive.path).unlink()

    assert import_job_run(job_id=job.pk)["status"] == "failed"

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and "no longer stored" in job.error
    finished = AuditEvent.objects.get(action="watchlist.import_finish")
    assert finished.summary["status"] == "failed"


# ---------------------------------------------------------------- upload refusals, roles and zones


def post_archive(client: APIClient, watchlist: Watchlist, data: bytes | None) -> Any:
    body = {} if data is None else {"archive": SimpleUploadedFile("import.zip", data, content_type="application/zip")}
    return client.post(f"/api/v1/watchlists/{watchlist.pk}/import/", body, format="multipart")


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (b"PK\x03\x04 but not really a zip", "invalid_archive", "not a readable zip"),
        (zip_bytes({"photos/a.jpg": b"A"}), "csv_missing", "no subjects.csv"),
        (zip_bytes({"subjects.csv": "full_name,photos\nA,a.jpg\n"}), "csv_columns", "legal_basis, expires_at"),
        (zip_bytes({"subjects.csv": ",".join(COLUMNS) + "\n"}), "csv_empty", "no subject rows"),
        (
            zip_bytes({"subjects.csv": "full_name,legal_basis,expires_at,photos\n\xe9".encode("latin-1")}),
            "csv_encoding",
            "UTF-8",
        ),
    ],
)
def test_a_bad_archive_is_refused_at_upload(client_as, watchlist, data, code, words) -> None:  # type: ignore[no-untyped-def]
    response = post_archive(client_as(Role.OFFICER), watchlist, data)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code and words in response.json()["message"]
    assert not ImportJob.objects.exists()
    assert not AuditEvent.objects.filter(action="watchlist.import_start").exists()


def test_an_upload_without_an_archive_is_refused(client_as, watchlist) -> None:  # type: ignore[no-untyped-def]
    response = post_archive(client_as(Role.OFFICER), watchlist, None)
    assert response.status_code == 400 and "archive" in response.json()["errors"]


def test_roles_and_zones(client_as, make_user, watchlist, users_by_role) -> None:  # type: ignore[no-untyped-def]
    archive = zip_bytes({"subjects.csv": subjects_csv([{"full_name": "X", "photos": "x.jpg"}])})
    assert post_archive(client_as(None), watchlist, archive).status_code in (401, 403)
    for role in (Role.AUDITOR, Role.COMMISSIONER, Role.ADMIN):
        assert post_archive(client_as(role), watchlist, archive).status_code == 403, role
    assert not ImportJob.objects.exists()

    accepted = post_archive(client_as(Role.SUPERVISOR), watchlist, archive)
    assert accepted.status_code == 202, accepted.content
    job_id = accepted.json()["id"]
    assert client_as(Role.OFFICER).get(f"/api/v1/imports/{job_id}/").status_code == 200
    assert client_as(Role.AUDITOR).get(f"/api/v1/imports/{job_id}/").status_code == 200
    assert client_as(Role.COMMISSIONER).get(f"/api/v1/imports/{job_id}/").status_code == 403

    outsider = APIClient()
    login_verified(outsider, make_user(Role.OFFICER, "south-officer", ("south",)))
    assert post_archive(outsider, watchlist, archive).status_code == 404
    assert outsider.get(f"/api/v1/imports/{job_id}/").status_code == 404
    assert job_id not in {job["id"] for job in outsider.get("/api/v1/imports/").json()["results"]}
    assert ImportJob.objects.count() == 1
