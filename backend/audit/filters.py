"""Filters of the auditor's event list and CSV export (django-filter)."""

from __future__ import annotations

import django_filters

from .models import AuditEvent


class AuditEventFilter(django_filters.FilterSet):
    action = django_filters.CharFilter(field_name="action")
    action_prefix = django_filters.CharFilter(field_name="action", lookup_expr="startswith", label="Action starts with")
    actor = django_filters.NumberFilter(field_name="actor_id")
    actor_username = django_filters.CharFilter(field_name="actor_username", lookup_expr="iexact")
    role = django_filters.CharFilter(field_name="role")
    object_type = django_filters.CharFilter(field_name="object_type")
    object_id = django_filters.CharFilter(field_name="object_id")
    zone = django_filters.NumberFilter(field_name="zone_id")
    request_id = django_filters.CharFilter(field_name="request_id")
    since = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields: list[str] = []
