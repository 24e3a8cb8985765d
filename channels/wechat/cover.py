"""A default cover image for an organization's articles: its name on a plain banner."""

from __future__ import annotations

import functools
import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from channels.base import ConfigurationError

SIZE = (900, 383)  # WeChat's 2.35:1 cover
BACKGROUND = (178, 34, 34)
TEXT = (255, 255, 255)


@functools.lru_cache(maxsize=256)
def default_cover(org_name: str, *, font_path: Path) -> bytes:
    """A JPEG under 64 KB with the organization's name centred, the same bytes every time."""
    try:
        font = ImageFont.truetype(str(font_path), 56, index=0)
        small = ImageFont.truetype(str(font_path), 30, index=0)
    except OSError as exc:
        raise ConfigurationError(
            f"封面字体 {font_path} 无法读取：请安装 Debian 软件包 fonts-wqy-zenhei"
        ) from exc
    image = Image.new("RGB", SIZE, BACKGROUND)
    draw = ImageDraw.Draw(image)
    _centred(draw, org_name, font, SIZE[1] // 2 - 40)
    _centred(draw, "政务公开", small, SIZE[1] // 2 + 40)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()


def _centred(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, y: int) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = (SIZE[0] - (right - left)) // 2
    draw.text((x, y - (bottom - top) // 2), text, font=font, fill=TEXT)
