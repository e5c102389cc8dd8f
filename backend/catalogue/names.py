"""Text keys for station and line names: the accent- and case-insensitive search key and the station id slug."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters that Unicode decomposition leaves whole but a French reader spells out.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@lru_cache(maxsize=8192)  # the same few thousand names, asked for every departure a worker reads
def normalise_name(text: str) -> str:
    """Search key: "Châtelet-Les Halles" -> "chatelet les halles", "Aéroport d'Orly" -> "aeroport d orly"."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    ascii_text = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_ALNUM.sub(" ", ascii_text.lower()).strip()


def slugify(text: str) -> str:
    """Station id form of a name: "Charles de Gaulle-Étoile" -> "charles-de-gaulle-etoile"."""
    return normalise_name(text).replace(" ", "-")


def is_slug(text: str) -> bool:
    return SLUG_PATTERN.fullmatch(text) is not None
