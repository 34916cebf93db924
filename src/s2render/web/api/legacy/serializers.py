"""The seed's job representation and its validation rules, kept for its clients.

Its rules: resolutions 10, 20 or 60; the four lists of equal length; each band one that the
L2A product holds natively at that resolution (the seed's ``accepted_list``). The v1 API may
resample any band; these endpoints keep the seed's contract.
"""

from __future__ import annotations

from rest_framework import serializers

from s2render.web.jobs.models import Job
from s2render.web.jobs.selectors import legacy_output, legacy_status

# The seed's accepted bands per resolution (its README), i.e. an L2A product's R10m/R20m/R60m.
SEED_BANDS: dict[str, tuple[str, ...]] = {
    "10": ("B02", "B03", "B04", "B08"),
    "20": ("B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B11", "B12"),
    "60": ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B09", "B11", "B12"),
}
LIST_FIELDS = ("res_list", "r_list", "g_list", "b_list")
ALTERNATIVES = {"B08": "B8A", "B8A": "B08"}


def split(value: str) -> list[str]:
    return [item.strip().upper() for item in value.split(",")]


class LegacyJobSerializer(serializers.ModelSerializer):
    """id, res_list, r_list, g_list, b_list, status, output — as the seed answered."""

    res_list = serializers.CharField(max_length=200, help_text='Resolutions, e.g. "20,20,60".')
    r_list = serializers.CharField(max_length=200, help_text='Red bands, e.g. "B04,B12,B06".')
    g_list = serializers.CharField(max_length=200, help_text='Green bands, e.g. "B03,B11,B04".')
    b_list = serializers.CharField(max_length=200, help_text='Blue bands, e.g. "B02,B03,B02".')
    status = serializers.SerializerMethodField()
    output = serializers.SerializerMethodField()
    product = serializers.CharField(
        write_only=True,
        required=False,
        help_text="Registered product id or name, or a path under the data root; "
        "default: the configured default product.",
    )

    class Meta:
        model = Job
        fields = ("id", "res_list", "r_list", "g_list", "b_list", "status", "output", "product")

    def get_status(self, job: Job) -> str:
        return legacy_status(job)

    def get_output(self, job: Job) -> str:
        return legacy_output(job)

    def validate_res_list(self, value: str) -> str:
        items = split(value)
        bad = [r for r in items if r not in SEED_BANDS]
        if bad:
            raise serializers.ValidationError(
                f"{', '.join(repr(b) for b in bad)}: each resolution must be 10, 20 or 60 "
                '(metres), comma separated, e.g. "20,20,60"'
            )
        return ",".join(items)

    def validate(self, attrs: dict) -> dict:
        merged = {
            name: attrs.get(name, getattr(self.instance, name, "") if self.instance else "")
            for name in LIST_FIELDS
        }
        lists = {name: split(value) for name, value in merged.items()}
        lengths = {name: len(items) for name, items in lists.items()}
        if len(set(lengths.values())) != 1:
            counts = ", ".join(f"{n} has {c}" for n, c in lengths.items())
            raise serializers.ValidationError(
                {
                    name: [f"the four lists must have the same length ({counts})"]
                    for name in LIST_FIELDS
                    if lengths[name] != lengths["res_list"] or name == "res_list"
                }
            )
        errors: dict[str, list[str]] = {}
        for name in ("r_list", "g_list", "b_list"):
            for i, (res, band) in enumerate(zip(lists["res_list"], lists[name], strict=True)):
                accepted = SEED_BANDS.get(res, ())
                if band not in accepted:
                    alt = ALTERNATIVES.get(band)
                    hint = f"; use {alt}" if alt in accepted else ""
                    errors.setdefault(name, []).append(
                        f"item {i + 1}: {band or 'an empty entry'} is not available at {res} m"
                        f"{hint} (at {res} m choose from {', '.join(accepted)})"
                    )
        if errors:
            raise serializers.ValidationError(errors)
        for name in ("r_list", "g_list", "b_list"):
            if name in attrs:
                attrs[name] = ",".join(lists[name])
        return attrs
