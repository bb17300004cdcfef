"""Pagination with bounds: a client-chosen offset or limit must never reach the database as a
number it cannot hold (the API fuzz run found `?offset=` past bigint answering 500)."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

MAX_OFFSET = 10_000_000


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = 500

    def get_offset(self, request: Request) -> int:
        offset = super().get_offset(request)
        if offset > MAX_OFFSET:
            raise ValidationError({self.offset_query_param: f"Must be at most {MAX_OFFSET}."})
        return offset
