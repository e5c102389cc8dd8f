"""Colour arithmetic for line badges: WCAG 2.x relative luminance and contrast ratio, and the readable text colour."""

from __future__ import annotations

import re

HEX_COLOUR = re.compile(r"^#?[0-9A-Fa-f]{6}$")
BLACK = "#000000"
WHITE = "#FFFFFF"


def canonical_colour(value: str) -> str:
    """ "ffcd00" or "#FFcd00" -> "#FFCD00"; raises ValueError for anything that is not 6 hex digits."""
    if not HEX_COLOUR.fullmatch(value):
        raise ValueError(f"not a 6-digit hex colour: {value!r}")
    return "#" + value.lstrip("#").upper()


def relative_luminance(colour: str) -> float:
    hex_digits = canonical_colour(colour)[1:]
    channels = []
    for start in (0, 2, 4):
        srgb = int(hex_digits[start : start + 2], 16) / 255
        channels.append(srgb / 12.92 if srgb <= 0.04045 else ((srgb + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def readable_text_colour(background: str) -> str:
    """Black or white, whichever contrasts more with `background` (white wins a tie, as on RATP signage)."""
    return BLACK if contrast_ratio(background, BLACK) > contrast_ratio(background, WHITE) else WHITE
