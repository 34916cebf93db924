"""Registered products: where a product lies and what it holds, parsed once at registration.

A product is a local SAFE folder or zip under the data root (``safe``, ``zip``, ``folder``), a
STAC item whose COG assets are read over HTTP (``stac``; ``location`` is the resolved copy of
the item kept under the data root), or a product of the Copernicus Data Space Ecosystem
(``remote``; ``location`` is where its zip lands once fetched, ``remote_id`` its catalogue id).
"""

from __future__ import annotations

from django.db import models


class ProductState(models.TextChoices):
    AVAILABLE = "available"  # its files are there (or, for STAC, its assets are reachable)
    FETCHING = "fetching"  # being downloaded
    MISSING = "missing"  # known, not (or no longer) on disk: fetched when a job needs it
    BROKEN = "broken"  # its files no longer parse


class ProductSource(models.TextChoices):
    SAFE = "safe"
    ZIP = "zip"
    FOLDER = "folder"
    STAC = "stac"
    REMOTE = "remote"


class Product(models.Model):
    name = models.CharField(max_length=200, unique=True)  # the product id (SAFE name)
    level = models.CharField(max_length=3)  # L1C | L2A
    mission = models.CharField(max_length=3, blank=True)
    tile = models.CharField(max_length=5, blank=True, db_index=True)
    sensed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    baseline = models.CharField(max_length=5, blank=True)
    cloud_cover = models.FloatField(null=True, blank=True)
    footprint = models.JSONField(null=True, blank=True)  # GeoJSON geometry, lon/lat
    # The footprint's lon/lat bounds, for bbox filters on any database (no spatial extension).
    west = models.FloatField(null=True, blank=True)
    south = models.FloatField(null=True, blank=True)
    east = models.FloatField(null=True, blank=True)
    north = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=ProductSource.choices)
    location = models.CharField(max_length=1000, unique=True)  # absolute path
    state = models.CharField(
        max_length=10, choices=ProductState.choices, default=ProductState.AVAILABLE
    )
    bands = models.JSONField(default=dict)  # {"10m": [...], "20m": [...], "60m": [...]}
    offsets = models.JSONField(default=dict)  # per band radiometric offset (DN)
    offset_source = models.CharField(max_length=300, blank=True)  # which rule set the offsets
    remote_id = models.CharField(max_length=100, blank=True)  # CDSE product id (remote)
    remote_url = models.CharField(max_length=2000, blank=True)  # the STAC item's URL (stac)
    checksum = models.CharField(max_length=100, blank=True)  # "md5:<hex>" from the catalogue
    size_bytes = models.BigIntegerField(null=True, blank=True)
    bytes_done = models.BigIntegerField(default=0)  # download progress while fetching
    error = models.TextField(blank=True)  # why the last fetch failed
    last_used_at = models.DateTimeField(null=True, blank=True)  # for LRU eviction
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sensed_at", "name"]

    def __str__(self) -> str:
        return self.name
