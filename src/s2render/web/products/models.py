"""Registered products: where a product lies and what it holds, parsed once at registration."""

from __future__ import annotations

from django.db import models


class ProductState(models.TextChoices):
    AVAILABLE = "available"
    MISSING = "missing"
    BROKEN = "broken"


class Product(models.Model):
    name = models.CharField(max_length=200, unique=True)  # the product id (SAFE name)
    level = models.CharField(max_length=3)  # L1C | L2A
    mission = models.CharField(max_length=3, blank=True)
    tile = models.CharField(max_length=5, blank=True, db_index=True)
    sensed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    baseline = models.CharField(max_length=5, blank=True)
    cloud_cover = models.FloatField(null=True, blank=True)
    footprint = models.JSONField(null=True, blank=True)  # GeoJSON geometry, lon/lat
    source = models.CharField(max_length=10)  # safe | zip | folder
    location = models.CharField(max_length=1000, unique=True)  # absolute path
    state = models.CharField(
        max_length=10, choices=ProductState.choices, default=ProductState.AVAILABLE
    )
    bands = models.JSONField(default=dict)  # {"10m": [...], "20m": [...], "60m": [...]}
    offsets = models.JSONField(default=dict)  # per band radiometric offset (DN)
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sensed_at", "name"]

    def __str__(self) -> str:
        return self.name
