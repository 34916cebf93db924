"""``s2render products``: the registry from the terminal, through the same services as the API."""

from __future__ import annotations

import json
import shutil
import uuid

import pytest
from click.testing import CliRunner
from django.conf import settings

from s2render.cli.main import cli
from s2render.web.products.models import Product


@pytest.fixture
def folder(transactional_db):
    root = settings.DATA_DIR / f"cli-{uuid.uuid4().hex[:8]}"
    root.mkdir(parents=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_scan_list_and_remove(folder, demo_l2a, demo_l1c):
    shutil.copytree(demo_l2a, folder / demo_l2a.name)
    shutil.copytree(demo_l1c, folder / demo_l1c.name)
    broken = folder / "S2B_MSIL1C_20200101T000000_N0214_R001_T33UUU_BROKEN.SAFE"
    broken.mkdir()

    result = run("products", "scan", "--root", str(folder), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert sorted(r["name"] for r in report["registered"]) == sorted([demo_l2a.stem, demo_l1c.stem])
    assert [s["path"] for s in report["skipped"]] == [str(broken)]

    listed = json.loads(run("products", "list", "--level", "L1C", "--json").stdout)
    assert [r["name"] for r in listed] == [demo_l1c.stem]
    assert listed[0]["state"] == "available" and listed[0]["source"] == "safe"

    l1c = Product.objects.get(name=demo_l1c.stem)
    result = run("products", "remove", str(l1c.pk), "--yes")
    assert result.exit_code == 0, result.output
    assert f"removed {demo_l1c.stem}" in result.output
    assert not (folder / demo_l1c.name).exists()
    assert not Product.objects.filter(pk=l1c.pk).exists()


def test_list_rejects_a_bad_bbox_with_the_hint(folder):
    result = CliRunner().invoke(cli, ["products", "list", "--bbox", "1,2,3"])
    assert result.exit_code == 2
    assert "4" in result.output and "west" in result.output.lower()


def test_register_refuses_a_path_outside_the_data_root(folder, demo_l2a):
    result = CliRunner().invoke(cli, ["products", "register", str(demo_l2a)])
    assert result.exit_code == 2
    assert "outside the data root" in result.output
