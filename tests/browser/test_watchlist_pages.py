"""Watchlist pages in real Chromium against the real stack (Triton enrols the photos): an officer
creates a listing and enrols photos with immediate feedback, another supervisor approves it from
the queue, and a hostile name stays text everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from backend.accounts.roles import Role
from backend.watchlists.models import Subject
from tests.browser.helpers import REFUSED_422, sign_in_verified, watch_for_trouble
from tests.factories import watchlist_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = "<img src=x onerror=alert(1)>"
PORTRAIT = "face_recognition/examples/knn_examples/train/obama/obama.jpg"
NO_FACE = "face_api_js/test/images/white.png"
TWO_PEOPLE = "face_recognition/examples/two_people.jpg"


def test_officer_lists_a_person_and_enrols_photos_with_feedback(
    page, web_server, make_user, zones, datasets_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    supervisor = make_user(Role.SUPERVISOR)
    watchlist_make(zone=zones["north"], created_by=supervisor, name="Chain snatchers")
    officer = make_user(Role.OFFICER)
    trouble = watch_for_trouble(page, expected=(REFUSED_422,))
    sign_in_verified(page, web_server, officer)
    nav = page.get_by_test_id("nav")
    assert nav.get_by_role("link", name="Listings").count() == 1
    assert nav.get_by_role("link", name="Audit log").count() == 0  # officers have no auditor page

    nav.get_by_role("link", name="Listings").click()
    page.get_by_role("link", name="New listing").click()
    page.fill("input[name=full_name]", HOSTILE)
    page.fill("input[name=case_reference]", "FIR 88/2026")
    page.fill("textarea[name=legal_basis]", "Warrant 12/2026, JMFC Pune")
    page.fill("input[name=expires_at]", "2027-03-31")
    page.get_by_role("button", name="Create listing").click()
    page.wait_for_url("**/subjects/*/")
    assert page.get_by_test_id("subject-name").inner_text() == HOSTILE
    assert page.get_by_test_id("subject-status").inner_text() == "Pending approval"
    assert page.locator("img[src=x]").count() == 0

    upload = page.locator("#photo-form input[type=file]")
    result = page.get_by_test_id("enrol-result")
    upload.set_input_files(str(datasets_dir / NO_FACE))
    page.get_by_role("button", name="Enrol photo").click()
    page.wait_for_selector("[data-testid=enrol-result][data-kind=error]")
    assert result.inner_text() == "No face was found in the photo."

    upload.set_input_files(str(datasets_dir / TWO_PEOPLE))
    page.get_by_role("button", name="Enrol photo").click()
    page.wait_for_selector("[data-testid=face-choices] button")
    assert "2 faces" in result.inner_text()
    assert page.locator("[data-testid=face-choices] button").count() == 2

    upload.set_input_files(str(datasets_dir / PORTRAIT))
    page.get_by_role("button", name="Enrol photo").click()
    page.wait_for_selector("[data-testid=enrol-result][data-kind=ok]")
    assert result.inner_text().startswith("Enrolled: face")
    page.wait_for_selector("[data-testid=template-quality]")  # the page reloads with the template
    assert "eyes" in page.get_by_test_id("template-quality").first.inner_text()

    page.goto(f"{web_server}/subjects/")
    assert page.get_by_test_id("subject-link").first.inner_text() == HOSTILE
    assert page.locator("img[src=x]").count() == 0
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble


def test_another_supervisor_approves_from_the_queue(page, web_server, make_user, zones, datasets_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from backend.watchlists import services
    from tests.factories import subject_make

    creator = make_user(Role.SUPERVISOR, username="creator-supervisor")
    approver = make_user(Role.SUPERVISOR, username="approving-supervisor")
    watchlist = watchlist_make(zone=zones["north"], created_by=creator)
    subject = subject_make(watchlist=watchlist, created_by=creator, full_name="Ravi Kale")
    services.subject_photo_add(subject=subject, data=(datasets_dir / PORTRAIT).read_bytes(), actor=creator)
    trouble = watch_for_trouble(page)

    sign_in_verified(page, web_server, approver)
    page.get_by_test_id("nav").get_by_role("link", name="Listings").click()
    page.get_by_test_id("approval-queue").click()
    page.get_by_role("link", name="Ravi Kale").click()
    assert page.get_by_test_id("two-person").count() == 0  # the approver did not create it
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("subject-status")).to_have_text("Active")
    assert page.get_by_test_id("approved-by").inner_text().startswith("approving-supervisor")
    assert Subject.objects.get(pk=subject.pk).approved_by == approver

    # Viewing the enrolled photo asks for a purpose; the image then loads (an audited read).
    page.fill("#photo-viewer input[name=purpose]", "verification before approval")
    with page.expect_response(lambda response: "/image/" in response.url) as shown:
        page.get_by_role("button", name="Show photos").click()
    assert shown.value.status == 200 and shown.value.header_value("content-type") == "image/jpeg"
    assert shown.value.request.method == "POST" and "purpose" not in shown.value.url
    expect(page.locator("[data-photo] img")).to_be_visible()
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble


def test_creator_sees_the_two_person_rule_and_cannot_approve(page, web_server, make_user, zones) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import subject_make

    creator = make_user(Role.SUPERVISOR, username="creator-supervisor")
    watchlist = watchlist_make(zone=zones["north"], created_by=creator)
    subject = subject_make(watchlist=watchlist, created_by=creator, full_name="Own listing")
    sign_in_verified(page, web_server, creator)
    page.goto(f"{web_server}/subjects/{subject.pk}/")
    assert "another supervisor" in page.get_by_test_id("two-person").inner_text()
    assert page.get_by_role("button", name="Approve").count() == 0


def test_supervisor_creates_a_watchlist_and_imports_listings_with_progress(  # type: ignore[no-untyped-def]
    page, web_server, celery_worker, make_user, zones, datasets_dir: Path, tmp_path: Path
) -> None:
    import zipfile

    supervisor = make_user(Role.SUPERVISOR)
    trouble = watch_for_trouble(page)
    sign_in_verified(page, web_server, supervisor)
    page.get_by_test_id("nav").get_by_role("link", name="Watchlists").click()
    assert "No watchlists" in page.get_by_test_id("watchlists").inner_text()
    page.fill("#watchlist-form input[name=name]", "Missing children")
    page.select_option("#watchlist-form select[name=category]", "missing_person")
    page.get_by_role("button", name="Create watchlist").click()
    expect(page.get_by_test_id("watchlists")).to_contain_text("Missing children")  # after the reload

    archive = tmp_path / "import.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(
            "subjects.csv",
            "full_name,legal_basis,expires_at,photos\n"
            "Barack Test,Missing person report 4/2026,2027-01-31,obama.jpg\n"
            "Nobody,Missing person report 5/2026,2027-01-31,white.png\n",
        )
        bundle.write(datasets_dir / PORTRAIT, "obama.jpg")
        bundle.write(datasets_dir / NO_FACE, "white.png")
    page.get_by_role("link", name="Bulk import").click()
    page.set_input_files("#import-form input[type=file]", str(archive))
    page.get_by_role("button", name="Start import").click()
    page.wait_for_selector("#import-progress[data-state=done]", timeout=60_000)
    assert "1 listings created" in page.get_by_test_id("import-status").inner_text()
    rejected = page.get_by_test_id("import-rejected").inner_text()
    assert "No face was found" in rejected
    assert Subject.objects.get(full_name="Barack Test").status == "pending"
    assert trouble["dialogs"] == [] and trouble["console"] == [], trouble
