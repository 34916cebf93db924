"""The seed's rendering algorithm, reimplemented faithfully so that we can measure it.

Source: ``Kokyuho/django-rest-api-images``, ``api/main.py:renderImage`` and ``api/views.py:JobRun``.
For each rendering, one process (all started at once, results gathered in a ``Manager`` dict):
Pillow opens the three band files of the L2A product, each is converted to a numpy array and
divided by 256 into uint8, the three are stacked as R, G, B, brightness is multiplied by 10
(``ImageEnhance.Brightness(img).enhance(10)``), the centre box (w/4, 2h/7, 3w/4, 5h/7) is cropped
and saved as JPEG with Pillow's defaults. Only the file lookup differs: the seed hard-coded one
product's tile and date; we glob the same folder pattern.

Run it: ``python -m s2render.benchmark.seed PRODUCT OUTDIR --res 20,20,60 --r B04,B12,B06
--g B03,B11,B04 --b B02,B03,B02``; it prints the JSON list of the JPEGs it wrote.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

BRIGHTNESS = 10


@dataclass(frozen=True)
class Rendering:
    """One rendering of a batch: a resolution in metres and the bands for red, green and blue."""

    res: int
    r: str
    g: str
    b: str

    @property
    def bands(self) -> tuple[str, str, str]:
        return self.r, self.g, self.b

    @property
    def name(self) -> str:
        return f"R{self.res}m_{self.r}_{self.g}_{self.b}"


def parse_batch(res: str, r: str, g: str, b: str) -> list[Rendering]:
    """The seed's comma-separated lists (``"20,20,60"``, ``"B04,B12,B06"``, ...) as renderings."""
    lists = [[item.strip() for item in text.split(",")] for text in (res, r, g, b)]
    if len({len(items) for items in lists}) != 1:
        counts = ", ".join(
            f"{n}={len(items)}" for n, items in zip(["res", "r", "g", "b"], lists, strict=True)
        )
        raise ValueError(f"the four lists must have the same length; got {counts}")
    return [Rendering(int(rs), rr, gg, bb) for rs, rr, gg, bb in zip(*lists, strict=True)]


SEED_BATCH: tuple[Rendering, ...] = tuple(
    parse_batch("20,20,60", "B04,B12,B06", "B03,B11,B04", "B02,B03,B02")
)


def find_band_file(product: Path, band: str, res: int) -> Path:
    """The L2A band file ``GRANULE/*/IMG_DATA/R{res}m/T*_{band}_{res}m.jp2`` of a SAFE folder."""
    pattern = f"GRANULE/*/IMG_DATA/R{res}m/T*_{band}_{res}m.jp2"
    matches = sorted(product.glob(pattern))
    if len(matches) != 1:
        found = "none" if not matches else ", ".join(str(m) for m in matches)
        raise FileNotFoundError(
            f"expected exactly one {pattern} under {product}, found {found}; "
            f"is {product} an L2A .SAFE folder with {band} in R{res}m?"
        )
    return matches[0]


def render_one(
    index: int,
    rendering: Rendering,
    product: Path,
    outdir: Path,
    results: MutableMapping[int, str],
) -> None:
    """Render one item exactly as the seed's ``renderImage`` did; record its path in ``results``."""
    band_r = Image.open(find_band_file(product, rendering.r, rendering.res))
    band_g = Image.open(find_band_file(product, rendering.g, rendering.res))
    band_b = Image.open(find_band_file(product, rendering.b, rendering.res))

    # The seed's uint16 -> uint8 mapping: divide by 2**8 (float64), truncated on assignment.
    b_r = np.asarray(band_r) / 256
    b_g = np.asarray(band_g) / 256
    b_b = np.asarray(band_b) / 256

    rgb = np.zeros([len(b_r), len(b_r[0]), 3], np.uint8)
    rgb[:, :, 0] = b_r
    rgb[:, :, 1] = b_g
    rgb[:, :, 2] = b_b

    image = ImageEnhance.Brightness(Image.fromarray(rgb)).enhance(BRIGHTNESS)
    width, height = image.size
    cropped = image.crop((width * 1 / 4, height * 2 / 7, width * 3 / 4, height * 5 / 7))

    path = outdir / f"seed_{index + 1:02d}_{rendering.name}.jpg"
    cropped.save(path)
    results[index] = str(path)


def render_batch(product: Path, outdir: Path, batch: Sequence[Rendering]) -> list[Path]:
    """One process per rendering, all started at once, as the seed's ``JobRun`` did."""
    outdir.mkdir(parents=True, exist_ok=True)
    # The seed ran on Linux's default start method, fork; pin it so Python 3.14's new default
    # (forkserver) does not change what is measured.
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager:
        results = manager.dict()
        processes = [
            context.Process(target=render_one, args=(i, item, product, outdir, results))
            for i, item in enumerate(batch)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        written = dict(results)
    failed = [i for i, p in enumerate(processes) if p.exitcode != 0 or i not in written]
    if failed:
        names = ", ".join(batch[i].name for i in failed)
        raise RuntimeError(f"seed rendering failed for {names} (see the traceback above)")
    return [Path(written[i]) for i in range(len(batch))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m s2render.benchmark.seed", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("product", type=Path, help="an L2A .SAFE folder")
    parser.add_argument("outdir", type=Path, help="folder for the JPEGs")
    default = {
        key: ",".join(str(getattr(x, key)) for x in SEED_BATCH) for key in ["res", "r", "g", "b"]
    }
    parser.add_argument("--res", default=default["res"], help="resolutions, e.g. 20,20,60")
    parser.add_argument("--r", default=default["r"], help="red bands, e.g. B04,B12,B06")
    parser.add_argument("--g", default=default["g"], help="green bands, e.g. B03,B11,B04")
    parser.add_argument("--b", default=default["b"], help="blue bands, e.g. B02,B03,B02")
    args = parser.parse_args(argv)
    try:
        batch = parse_batch(args.res, args.r, args.g, args.b)
        paths = render_batch(args.product, args.outdir, batch)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps([str(p) for p in paths]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
