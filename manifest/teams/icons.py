"""Draw the Teams app icons: a 192x192 colour icon and a 32x32 white-on-transparent outline icon.

Teams wants the colour icon on a full background with the symbol in the middle, and the outline
icon in white only on a transparent background. Both are drawn here (a speech bubble with three
dots: "write to us"), so the repository holds no binary images.

Usage: python manifest/teams/icons.py [FOLDER]   (default: this folder)
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

ACCENT = (31, 90, 166, 255)  # #1F5AA6, the manifest's accentColor
WHITE = (255, 255, 255, 255)
SCALE = 4  # drawn this much larger, then scaled down for smooth edges


def _bubble(draw: ImageDraw.ImageDraw, size: int, *, margin: float, fill: object, outline: object, width: int) -> None:
    """A rounded speech bubble with a tail at the lower left, in a `size` square."""
    left, top = size * margin, size * (margin + 0.04)
    right, bottom = size * (1 - margin), size * (1 - margin - 0.16)
    radius = (bottom - top) * 0.3
    tail = [
        (left + size * 0.14, bottom - width),
        (left + size * 0.1, bottom + size * 0.16),
        (left + size * 0.34, bottom - width),
    ]
    draw.rounded_rectangle((left, top, right, bottom), radius=radius, fill=fill, outline=outline, width=width)
    draw.polygon(tail, fill=outline)


def _dots(draw: ImageDraw.ImageDraw, size: int, *, margin: float, fill: object) -> None:
    middle_y = size * (margin + 0.04 + (1 - 2 * margin - 0.2) / 2)
    radius = size * 0.055
    for i in (-1, 0, 1):
        x = size / 2 + i * size * 0.16
        draw.ellipse((x - radius, middle_y - radius, x + radius, middle_y + radius), fill=fill)


def draw_color() -> Image.Image:
    """192x192, opaque accent background, white bubble with accent dots."""
    size = 192 * SCALE
    image = Image.new("RGBA", (size, size), ACCENT)
    draw = ImageDraw.Draw(image)
    _bubble(draw, size, margin=0.22, fill=WHITE, outline=WHITE, width=SCALE)
    _dots(draw, size, margin=0.22, fill=ACCENT)
    return image.resize((192, 192), Image.Resampling.LANCZOS)


def draw_outline() -> Image.Image:
    """32x32, white strokes on a fully transparent background (every pixel is white; only alpha varies)."""
    size = 32 * SCALE
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    _bubble(draw, size, margin=0.08, fill=None, outline=255, width=2 * SCALE)
    _dots(draw, size, margin=0.08, fill=255)
    icon = Image.new("RGBA", (32, 32), (255, 255, 255, 0))
    icon.putalpha(mask.resize((32, 32), Image.Resampling.LANCZOS))
    return icon


def write_icons(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    color, outline = folder / "color.png", folder / "outline.png"
    draw_color().save(color, optimize=True)
    draw_outline().save(outline, optimize=True)
    return color, outline


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    for path in write_icons(target):
        sys.stdout.write(f"wrote {path}\n")
