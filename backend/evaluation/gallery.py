"""Evaluation galleries: real watchlists, subjects and templates made by the enrolment service
(Triton -> quality checks -> pgvector row), searched by the same `template_search` the live
pipeline uses, inside one transaction that is rolled back at the end.

Nothing of a gallery outlives the evaluation: its users, listings, templates and their audit events
disappear with the rollback, and the photo files written are deleted. Run it on a development or
CI stack: the transaction holds the audit chain's lock while it lasts.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from backend.accounts.models import User
from backend.accounts.roles import Role
from backend.accounts.services import user_create
from backend.cameras.services import zone_create
from backend.core.errors import ApplicationError
from backend.watchlists import services
from backend.watchlists.models import SubjectPhoto, Watchlist
from backend.zones.models import Zone

from .acquire import Probe
from .datasets import image_bytes


class _Rollback(Exception):
    pass


@dataclass
class Gallery:
    """One set's enrolled people, spread over `parts` watchlists so that nested galleries (the first
    m lists) measure how false matches grow with the list's size."""

    name: str
    watchlists: list[Watchlist] = field(default_factory=list)
    identity_of_subject: dict[int, str] = field(default_factory=dict)
    enrolled_sources: set[str] = field(default_factory=set)  # manifest paths of the enrolled photos
    sizes: list[int] = field(default_factory=list)  # cumulative templates over the first m lists
    failed: list[str] = field(default_factory=list)  # "path: reason" of photos the service refused

    @property
    def identities(self) -> set[str]:
        return set(self.identity_of_subject.values())


@dataclass
class Enroller:
    zone: Zone
    officer: User
    supervisor: User
    stored: list[SubjectPhoto] = field(default_factory=list)

    def gallery(self, name: str, candidates: dict[str, list[Probe]], *, parts: int = 1) -> Gallery:
        """Enrol one photo per identity (the first whose face the service accepts), identities
        dealt over `parts` lists of doubling size."""
        gallery = Gallery(name)
        bounds = _doubling_bounds(len(candidates), parts)
        for part in range(len(bounds)):
            gallery.watchlists.append(
                services.watchlist_create(
                    actor=self.supervisor,
                    zone=self.zone,
                    name=f"Evaluation {name} part {part + 1}",
                    category=Watchlist.Category.PERSON_OF_INTEREST,
                )
            )
        for index, (identity, photos) in enumerate(sorted(candidates.items())):
            part = next(p for p, bound in enumerate(bounds) if index < bound)
            self._enrol(gallery, gallery.watchlists[part], identity, photos)
        enrolled = set(gallery.identity_of_subject)
        counts = [len(enrolled & set(_subjects(w))) for w in gallery.watchlists]
        gallery.sizes = [sum(counts[: m + 1]) for m in range(len(counts))]
        return gallery

    def _enrol(self, gallery: Gallery, watchlist: Watchlist, identity: str, photos: Sequence[Probe]) -> None:
        subject = services.subject_create(
            actor=self.officer,
            watchlist=watchlist,
            full_name=identity,
            legal_basis="evaluation (rolled back)",
            expires_at=timezone.now() + timedelta(days=1),
        )
        for probe in photos:
            assert probe.path is not None  # gallery photos are portraits, read from their file
            try:
                self.stored.append(
                    services.subject_photo_add(
                        subject=subject, data=image_bytes(probe.path), actor=self.officer, box=probe.box
                    )
                )
            except ApplicationError as error:
                gallery.failed.append(f"{probe.source}: {error.code}")
                continue
            services.subject_approve(subject=subject, actor=self.supervisor)
            gallery.identity_of_subject[subject.pk] = identity
            gallery.enrolled_sources.add(probe.source)
            return


def _subjects(watchlist: Watchlist) -> list[int]:
    return list(watchlist.subjects.values_list("pk", flat=True))


def _doubling_bounds(count: int, parts: int) -> list[int]:
    """Cumulative ends of `parts` groups whose sizes double (the last takes the rest): 33 people in
    4 parts -> [4, 8, 16, 33]."""
    if parts <= 1 or count < 2**parts:
        return [count]
    first = max(1, count // 2 ** (parts - 1))
    bounds = [first * 2**k for k in range(parts - 1)]
    return [*bounds, count]


@contextmanager
def rolled_back() -> Iterator[Enroller]:
    """An Enroller whose every write is undone when the block ends (also on error)."""
    enroller: Enroller | None = None
    try:
        with transaction.atomic():
            # A zone of its own: no standing operation (the demo's, a real deployment's) covers it,
            # so an evaluation camera searches the evaluation's list and nothing else.
            tag = secrets.token_hex(3)
            zone = zone_create(code=f"evaluation-{tag}", name=f"Evaluation {tag}", centre_lat=18.52, centre_lon=73.85)
            enroller = Enroller(
                zone=zone,
                officer=user_create(
                    username=f"evaluation-officer-{tag}",
                    password=secrets.token_urlsafe(24),
                    role=Role.OFFICER,
                    zones=[zone],
                ),
                supervisor=user_create(
                    username=f"evaluation-supervisor-{tag}",
                    password=secrets.token_urlsafe(24),
                    role=Role.SUPERVISOR,
                    zones=[zone],
                ),
            )
            yield enroller
            raise _Rollback
    except _Rollback:
        pass
    finally:
        for photo in enroller.stored if enroller else ():
            services.photo_file_discard(photo)
