"""French text made searchable: lowercase, accents stripped, cut into words.

The same function cuts what is indexed and what is searched, so « Éducation », « education »
and « ÉDUCATIONS » meet. Plurals in -s/-x are folded to the singular; every query word also
matches as a prefix, so « perm » finds « permis ».
"""

from __future__ import annotations

import re
import unicodedata

# Words too common to tell services apart (they are neither indexed nor searched).
_STOPWORDS_TEXT = """
a au aux avec ce ces cet cette d dans de des du elle en est et etc il ils je l la le les
leur leurs lui mais me meme mes mon ne nos notre nous on ou par pas pour qu que qui sa se
ses son sont sur ta te tes ton tu un une vos votre vous y
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
MIN_WORD = 2
MAX_WORD = 40

_NOT_WORD = re.compile(r"[^a-z0-9]+")
_PUNCTUATION = re.compile(r"[^\w]+")
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss"})


def normalise(value: str | None) -> str:
    """Lowercase, without accents or ligatures, words separated by single spaces."""
    if not value:
        return ""
    # Punctuation first becomes a space (« l’emploi » is two words), then accents go.
    spaced = _PUNCTUATION.sub(" ", value.lower().translate(_LIGATURES))
    ascii_only = unicodedata.normalize("NFKD", spaced).encode("ascii", "ignore").decode()
    return " ".join(_NOT_WORD.split(ascii_only)).strip()


def _fold(word: str) -> str:
    if len(word) > 3 and word[-1] in "sx":
        return word[:-1]
    return word


def words(value: str | None) -> list[str]:
    """The searchable words of ``value``, in order, without stop words (may repeat)."""
    return [
        _fold(w)[:MAX_WORD]
        for w in normalise(value).split()
        if len(w) >= MIN_WORD and w not in STOPWORDS
    ]


def query_words(value: str | None, limit: int = 8) -> list[str]:
    """The distinct words of a search, at most ``limit`` of them."""
    seen: list[str] = []
    for w in words(value):
        if w not in seen:
            seen.append(w)
    return seen[:limit]


def prefix_end(prefix: str) -> str:
    """The smallest word after every word starting with ``prefix`` (words are [a-z0-9])."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
