"""``s2render download``: credentials and endpoints from the environment, a local fake CDSE."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from s2render.cli.main import cli
from s2render.core.product import open_product
from tests.support.cdse_server import FakeProduct, serve_cdse, zip_safe


@pytest.fixture(scope="module")
def product(tmp_path_factory) -> FakeProduct:
    from s2render.core.demo import write_demo_product

    safe = write_demo_product(tmp_path_factory.mktemp("cdse-cli-demo"), size=192, seed=1)
    return FakeProduct(name=safe.name, body=zip_safe(safe))


@pytest.fixture
def cdse(product):
    with serve_cdse([product]) as server:
        yield server


def _env(cdse, tmp_path: Path, **overrides: str | None) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        "S2RENDER_DATA_DIR": str(tmp_path / "data"),
        "S2RENDER_CDSE_USERNAME": cdse.username,
        "S2RENDER_CDSE_PASSWORD": cdse.password,
        "S2RENDER_CDSE_TOKEN_URL": cdse.token_url,
        "S2RENDER_CDSE_CATALOGUE_URL": cdse.catalogue_url,
        "S2RENDER_CDSE_DOWNLOAD_URL": cdse.download_url,
    }
    env.update(overrides)
    return env


def test_download_writes_the_zip_into_dest_and_prints_its_path(cdse, product, tmp_path):
    dest = tmp_path / "here"
    result = CliRunner().invoke(
        cli, ["download", product.name.removesuffix(".SAFE"), "--dest", str(dest)],
        env=_env(cdse, tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip())
    assert path == dest / (product.name.removesuffix(".SAFE") + ".zip")
    assert path.read_bytes() == product.body
    assert "B04" in open_product(path).bands()
    assert cdse.full_downloads == 1


def test_download_defaults_to_the_data_folder(cdse, product, tmp_path):
    result = CliRunner().invoke(cli, ["download", product.name], env=_env(cdse, tmp_path))
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip())
    assert path.parent == tmp_path / "data" / "downloads"
    assert path.is_file()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"S2RENDER_CDSE_PASSWORD": "wrong"}, "refused the login"),
        ({"S2RENDER_CDSE_USERNAME": None, "S2RENDER_CDSE_PASSWORD": None}, "needs an account"),
    ],
    ids=["refused", "missing"],
)
def test_download_without_valid_credentials_exits_with_a_clear_error(
    cdse, product, tmp_path, overrides, expected
):
    result = CliRunner().invoke(
        cli,
        ["download", product.name, "--dest", str(tmp_path)],
        env=_env(cdse, tmp_path, **overrides),
    )
    assert result.exit_code == 1
    assert expected in result.output
    assert "S2RENDER_CDSE_USERNAME and S2RENDER_CDSE_PASSWORD" in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.glob("*.zip"))
    assert cdse.body_requests == 0


def test_render_of_a_product_name_downloads_it_first_then_reuses_it(cdse, product, tmp_path):
    """The seed's behaviour: a product it does not have is fetched, then rendered."""
    import numpy as np
    from PIL import Image

    name = product.name.removesuffix(".SAFE")
    args = ["render", name, "--res", "60", "--r", "B04", "--g", "B03", "--b", "B02"]
    for attempt in range(2):
        out = tmp_path / f"out{attempt}"
        result = CliRunner().invoke(cli, [*args, "--out", str(out)], env=_env(cdse, tmp_path))
        assert result.exit_code == 0, result.output
        [image] = [Path(p) for p in result.stdout.split()]
        with Image.open(image) as decoded:
            pixels = np.asarray(decoded)
        assert decoded.format == "JPEG" and pixels.shape == (32, 32, 3) and pixels.max() > 0
    assert cdse.full_downloads == 1  # the second run found the zip in the data folder
    assert (tmp_path / "data" / "downloads" / f"{name}.zip").read_bytes() == product.body


def test_render_of_a_path_that_does_not_exist_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["render", str(tmp_path / "nothing.SAFE")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
