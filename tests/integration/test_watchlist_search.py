"""1:N search in PostgreSQL + pgvector: complete under the eligibility filter, for both plans.

The trap being guarded against (docs/architecture.md, "1:N search"): an HNSW scan applies the
WHERE clause after the index has produced its ef_search nearest rows, so when the nearest rows are
all ineligible a filtered query silently returns nothing. Here the probe's nearest neighbours are
deliberately ineligible (other list, pending, expired, removed, other model version) and the one
eligible subject sits further away: it must still be found, by either plan."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from backend.accounts.roles import Role
from backend.watchlists.models import Subject
from backend.watchlists.search import template_search, template_search_explain
from tests.factories import TEST_MODEL_VERSION, photo_make, subject_make, template_make, unit, watchlist_make

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PLANS = ["exact", "hnsw"]


@pytest.fixture
def people(users_by_role, make_user):  # type: ignore[no-untyped-def]
    return users_by_role[Role.OFFICER], make_user(Role.SUPERVISOR, username="approver")


def enrol(watchlist, people, embedding, *, status="active", model_version=TEST_MODEL_VERSION, name="P"):  # type: ignore[no-untyped-def]
    officer, approver = people
    subject = subject_make(
        watchlist=watchlist,
        created_by=officer,
        approved_by=approver if status == "active" else None,
        status=status,
        full_name=name,
    )
    template_make(
        photo=photo_make(subject=subject, created_by=officer), embedding=embedding, model_version=model_version
    )
    return subject


def near(probe: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    return unit(probe + rng.normal(scale=noise, size=probe.shape))


@pytest.mark.parametrize("plan", PLANS)
def test_eligible_subject_is_found_behind_many_closer_ineligible_ones(plan, zones, users_by_role, people) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    supervisor = users_by_role[Role.SUPERVISOR]
    big = watchlist_make(zone=zones["north"], created_by=supervisor, name="Big city list")
    small = watchlist_make(zone=zones["north"], created_by=supervisor, name="Small list")
    probe = unit(rng.normal(size=128))
    # 150 templates on another list, all closer to the probe than the target (noise 0.02 vs 0.05).
    for i in range(150):
        enrol(big, people, near(probe, rng, 0.02), name=f"big-{i}")
    # On the searched list: closer but not eligible in four different ways.
    enrol(small, people, near(probe, rng, 0.01), status="pending", name="pending")
    enrol(small, people, near(probe, rng, 0.01), status="removed", name="removed")
    expired = enrol(small, people, near(probe, rng, 0.01), name="expired")
    Subject.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    enrol(small, people, near(probe, rng, 0.01), model_version="other-model@2", name="other model")
    target = enrol(small, people, near(probe, rng, 0.05), name="target")

    result = template_search(embedding=probe, model_version=TEST_MODEL_VERSION, watchlists=[small], k=5, plan=plan)
    assert [c.subject_id for c in result.candidates] == [target.pk]
    assert result.candidates[0].subject_name == "target" and result.candidates[0].watchlist_name == "Small list"
    assert result.plan == plan or (plan == "hnsw" and result.plan == "exact")  # hnsw may fall back, never miss


def test_exact_plan_equals_brute_force_and_hnsw_plan_stays_within_the_filter(zones, users_by_role, people) -> None:  # type: ignore[no-untyped-def]
    """Random galleries over five lists with mixed eligibility, against numpy on the same rows."""
    rng = np.random.default_rng(11)
    supervisor = users_by_role[Role.SUPERVISOR]
    lists = [watchlist_make(zone=zones["north"], created_by=supervisor, name=f"L{i}") for i in range(5)]
    centres = [unit(rng.normal(size=128)) for _ in range(60)]
    gallery = []  # (subject, list index, embedding, eligible)
    for n in range(240):
        list_index = n % 5
        status = ["active", "active", "active", "pending", "removed"][rng.integers(0, 5)]
        embedding = near(centres[n % 60], rng, 0.3)
        subject = enrol(lists[list_index], people, embedding, status=status, name=f"s{n}")
        gallery.append((subject.pk, list_index, embedding, status == "active"))
    searched = {0, 2}
    misses = 0
    for trial in range(20):
        probe = near(centres[trial], rng, 0.3)
        eligible = [(pk, float(emb @ probe)) for pk, li, emb, ok in gallery if ok and li in searched]
        truth = [pk for pk, _ in sorted(eligible, key=lambda item: -item[1])[:5]]
        watchlists = [lists[i] for i in sorted(searched)]
        exact = template_search(
            embedding=probe, model_version=TEST_MODEL_VERSION, watchlists=watchlists, k=5, plan="exact"
        )
        assert [c.subject_id for c in exact.candidates] == truth
        scores = dict(eligible)
        assert [c.score for c in exact.candidates] == pytest.approx([scores[pk] for pk in truth], abs=1e-5)
        hnsw = template_search(
            embedding=probe, model_version=TEST_MODEL_VERSION, watchlists=watchlists, k=5, plan="hnsw"
        )
        returned = [c.subject_id for c in hnsw.candidates]
        assert len(returned) == 5 and set(returned) <= set(scores)  # full answer, nothing ineligible
        misses += len(set(truth) - set(returned))
    assert misses <= 2, f"HNSW plan missed {misses} of 100 true top-5 candidates"


def test_hnsw_plan_walks_the_hnsw_index_and_exact_plan_does_not(zones, users_by_role, people) -> None:  # type: ignore[no-untyped-def]
    """So the parametrised test above really exercises the index path."""
    rng = np.random.default_rng(1)
    watchlist = watchlist_make(zone=zones["north"], created_by=users_by_role[Role.SUPERVISOR])
    for i in range(20):
        enrol(watchlist, people, rng.normal(size=128), name=f"s{i}")
    probe = unit(rng.normal(size=128))
    kwargs = {"embedding": probe, "model_version": TEST_MODEL_VERSION, "watchlists": [watchlist], "k": 5}
    assert "template_embedding_hnsw" in template_search_explain(plan="hnsw", **kwargs)
    assert "template_embedding_hnsw" not in template_search_explain(plan="exact", **kwargs)


def test_subject_with_several_photos_is_one_candidate_with_its_best_score(zones, users_by_role, people) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    watchlist = watchlist_make(zone=zones["north"], created_by=users_by_role[Role.SUPERVISOR])
    probe = unit(rng.normal(size=128))
    subject = enrol(watchlist, people, near(probe, rng, 0.3), name="many photos")
    best = near(probe, rng, 0.05)
    template_make(photo=photo_make(subject=subject, created_by=people[0]), embedding=best)
    other = enrol(watchlist, people, near(probe, rng, 0.2), name="other")
    result = template_search(embedding=probe, model_version=TEST_MODEL_VERSION, watchlists=[watchlist], k=5)
    assert [c.subject_id for c in result.candidates] == [subject.pk, other.pk]
    assert result.candidates[0].score == pytest.approx(float(best @ probe), abs=1e-5)


def test_a_subject_owning_all_the_nearest_rows_does_not_hide_the_next_one(zones, users_by_role, people) -> None:  # type: ignore[no-untyped-def]
    """The exact plan keeps the 4k nearest templates; when one subject owns all of them, the
    plan widens to every subject instead of answering with fewer than k."""
    rng = np.random.default_rng(9)
    watchlist = watchlist_make(zone=zones["north"], created_by=users_by_role[Role.SUPERVISOR])
    probe = unit(rng.normal(size=128))
    prolific = enrol(watchlist, people, near(probe, rng, 0.02), name="25 photos")
    for _ in range(24):
        template_make(photo=photo_make(subject=prolific, created_by=people[0]), embedding=near(probe, rng, 0.02))
    second = enrol(watchlist, people, near(probe, rng, 0.2), name="second")
    result = template_search(
        embedding=probe, model_version=TEST_MODEL_VERSION, watchlists=[watchlist], k=2, plan="exact"
    )
    assert [c.subject_id for c in result.candidates] == [prolific.pk, second.pk]


def test_threshold_comes_from_each_watchlist(zones, users_by_role, people) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    supervisor = users_by_role[Role.SUPERVISOR]
    strict = watchlist_make(zone=zones["north"], created_by=supervisor, name="strict", match_threshold=0.97)
    lenient = watchlist_make(zone=zones["north"], created_by=supervisor, name="lenient", match_threshold=0.88)
    probe = unit(rng.normal(size=128))
    embedding = unit(probe * 0.93 + unit(rng.normal(size=128)) * np.sqrt(1 - 0.93**2))  # cosine about 0.93
    a, b = enrol(strict, people, embedding, name="a"), enrol(lenient, people, embedding, name="b")
    found = {
        c.subject_id: c
        for c in template_search(
            embedding=probe, model_version=TEST_MODEL_VERSION, watchlists=[strict, lenient]
        ).candidates
    }
    assert 0.9 < found[a.pk].score < 0.96
    assert found[a.pk].above_threshold is False and found[b.pk].above_threshold is True
    assert template_search(embedding=probe, model_version=TEST_MODEL_VERSION, watchlists=[]).candidates == []
