"""``s2render demo``: the README's first command, end to end."""

from pathlib import Path

from click.testing import CliRunner

from s2render.cli.main import cli
from tests.conftest import decode


def test_demo_makes_the_product_once_and_renders_the_seed_batch(tmp_path):
    runner = CliRunner()
    first = runner.invoke(cli, ["demo", "--data", str(tmp_path)])
    assert first.exit_code == 0, first.output
    paths = [Path(p) for p in first.stdout.split()]
    assert [p.name.split("_L2A_")[1] for p in paths] == [
        "20m_B04-B03-B02.jpg",
        "20m_B12-B11-B03.jpg",
        "60m_B06-B04-B02.jpg",
    ]
    for path, size in zip(paths, [549, 549, 183], strict=True):
        pixels, profile = decode(path)
        assert profile["driver"] == "JPEG" and pixels.shape == (3, size, size)
        assert pixels.std() > 10
    product = next((tmp_path / "demo").glob("*.SAFE"))
    stamp = (product / "MTD_MSIL2A.xml").stat().st_mtime_ns
    second = runner.invoke(cli, ["demo", "--data", str(tmp_path)])
    assert second.exit_code == 0, second.output
    assert (product / "MTD_MSIL2A.xml").stat().st_mtime_ns == stamp  # reused, not rewritten
