"""A job's contact sheet: one image with every rendering's thumbnail side by side in a grid, each
over its label; a rendering that failed is a grey cell that says so.

Cells come from the renderings' thumbnails (``X.thumb.png``), or from the image itself read at
reduced resolution when there is none (or a bigger cell is asked). Transparent pixels (no data,
masks) show a light checkerboard, the usual sign of transparency, so a masked cloud is not
mistaken for a white one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from s2render.core.encode import atomic_path
from s2render.core.errors import SpecError
from s2render.core.plan import RenderResult
from s2render.core.thumbnail import THUMBNAIL_SIZE, file_thumbnail

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
BACKGROUND = (255, 255, 255)
FAILED = (150, 150, 150)
TEXT = (20, 20, 20)
_CHECKER = ((236, 236, 236), (208, 208, 208))
_PAD = 8  # pixels around each cell
_LINES = 2  # label lines under each cell

Labels = Sequence[str] | Callable[[RenderResult], str] | None


def default_label(result: RenderResult) -> str:
    """The output's file stem (product, date, resolution, preset or bands), or its position."""
    if result.name:
        return Path(result.name).stem
    return f"rendering {result.index + 1}"


def sheet_format(path: str | Path) -> str:
    """The Pillow format a contact sheet named ``path`` is written in; SpecError if none."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise SpecError(
            f"contact sheet {Path(path).name!r}: name it .png, .jpg or .webp",
            field="contact_sheet",
        )
    return fmt


def write_contact_sheet(
    results: Sequence[RenderResult],
    out_path: str | Path,
    *,
    columns: int | None = None,
    cell: int = THUMBNAIL_SIZE,
    labels: Labels = None,
) -> Path:
    """Draw every rendering of ``results`` in a grid of ``columns`` (about square by default)
    cells of ``cell`` pixels with its label, and save it (PNG, JPEG or WebP by the suffix of
    ``out_path``) atomically."""
    out = Path(out_path)
    fmt = sheet_format(out)
    if not results:
        raise SpecError("a contact sheet needs at least one rendering", field="contact_sheet")
    if cell < 32:
        raise SpecError(f"cell size {cell} px is too small; use 32 or more", field="cell")
    texts = _labels(results, labels)
    columns = max(1, min(columns or math.ceil(math.sqrt(len(results))), len(results)))
    rows = math.ceil(len(results) / columns)
    font = _font(cell)
    line = _line_height(font)
    width, height = cell + 2 * _PAD, cell + 2 * _PAD + _LINES * line
    sheet = Image.new("RGB", (columns * width, rows * height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for i, (result, text) in enumerate(zip(results, texts, strict=True)):
        left, top = (i % columns) * width + _PAD, (i // columns) * height + _PAD
        thumbnail = _cell_image(result, cell)
        if thumbnail is None:
            draw.rectangle([left, top, left + cell - 1, top + cell - 1], fill=FAILED)
            _centred(draw, "failed", font, left, top + (cell - line) // 2, cell)
        else:
            x = left + (cell - thumbnail.width) // 2
            y = top + (cell - thumbnail.height) // 2
            sheet.paste(_over_checkerboard(thumbnail), (x, y))
        for n, text_line in enumerate(_wrap(draw, text, font, cell)):
            _centred(draw, text_line, font, left, top + cell + 2 + n * line, cell)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format=fmt, **({"quality": 90} if fmt != "PNG" else {}))
    return out


def _labels(results: Sequence[RenderResult], labels: Labels) -> list[str]:
    if labels is None:
        return [default_label(r) for r in results]
    if callable(labels):
        return [labels(r) for r in results]
    if len(labels) != len(results):
        raise SpecError(
            f"{len(labels)} labels for {len(results)} renderings; give one each", field="labels"
        )
    return [str(text) for text in labels]


def _cell_image(result: RenderResult, cell: int) -> Image.Image | None:
    """The rendering's picture fitted into ``cell``; None for a failed or vanished one."""
    if result.status != "done":
        return None
    thumbnail = Path(result.thumbnail) if result.thumbnail else None
    image_path = Path(result.path) if result.path else None
    try:
        if thumbnail is not None and thumbnail.is_file():
            with Image.open(thumbnail) as source:
                image = source.convert("RGBA")
            full = max(result.width or 0, result.height or 0)
            if max(image.size) >= min(cell, full) or image_path is None:
                image.thumbnail((cell, cell), Image.Resampling.LANCZOS)
                return image
        if image_path is not None and image_path.is_file():
            return file_thumbnail(image_path, size=cell)
    except OSError:
        return None
    return None


def _over_checkerboard(image: Image.Image, square: int = 8) -> Image.Image:
    board = Image.new("RGBA", image.size, _CHECKER[0] + (255,))
    draw = ImageDraw.Draw(board)
    for y in range(0, image.height, square):
        for x in range((y // square) % 2 * square, image.width, 2 * square):
            draw.rectangle([x, y, x + square - 1, y + square - 1], fill=_CHECKER[1] + (255,))
    board.alpha_composite(image)
    return board.convert("RGB")


def _font(cell: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    # Pillow's built-in font: scalable when Pillow has FreeType, its bitmap font otherwise.
    return ImageFont.load_default(size=max(10, cell // 20))


def _line_height(font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> int:
    _, top, _, bottom = font.getbbox("Ag_|")
    return int(bottom - min(top, 0)) + 3


def _wrap(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    width: int,
) -> list[str]:
    """``text`` cut into at most two lines of ``width`` pixels (breaking after ``_``, ``-`` or
    anywhere), the last shortened with an ellipsis if it still does not fit."""
    lines: list[str] = []
    rest = text
    while rest and len(lines) < _LINES:
        if len(lines) == _LINES - 1 or draw.textlength(rest, font=font) <= width:
            lines.append(_ellipsize(draw, rest, font, width))
            break
        cut = len(rest)
        while cut > 1 and draw.textlength(rest[:cut], font=font) > width:
            cut -= 1
        soft = max(rest.rfind("_", 0, cut), rest.rfind("-", 0, cut), rest.rfind(" ", 0, cut))
        cut = soft + 1 if soft > 0 else cut
        lines.append(rest[:cut])
        rest = rest[cut:]
    return lines


def _ellipsize(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    width: int,
) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while len(text) > 1 and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _centred(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    left: int,
    top: int,
    width: int,
) -> None:
    x = left + (width - draw.textlength(text, font=font)) / 2
    draw.text((x, top), text, fill=TEXT, font=font)
