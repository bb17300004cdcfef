"""Retention policy: how long each kind of data is kept. The audit log is kept longest."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models


class RetentionPolicy(models.Model):
    data_kind = models.SlugField(max_length=64, unique=True)
    retention_days = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    description = models.CharField(max_length=255)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["data_kind"]
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return f"{self.data_kind}: {self.retention_days} days"
