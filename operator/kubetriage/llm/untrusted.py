"""Untrusted-data blocks of the prompt: everything that came from the cluster, an alert or a
past incident is placed inside ``<untrusted-data>`` blocks that the system prompt tells the
model never to obey, and any tag-like text inside the data is escaped so it cannot close a
block early. Pure; used by ``kubetriage.llm.prompt``.
"""

from __future__ import annotations

import re
import unicodedata

DATA_OPEN = '<untrusted-data name="{name}">'
DATA_CLOSE = "</untrusted-data>"
# Any spelling a model might read as our tag: case, spaces, a closing slash. Matched on a
# folded copy of the data (see ``_fold``), so full-width or small-form brackets, look-alike
# letters and slashes, and invisible characters in between cannot slip through.
_TAG_LIKE = re.compile(r"<[\s/\\]*untrusted[-_\s]*data", re.IGNORECASE)
# Characters NFKC leaves alone that read as "<", "/" or a letter of "untrusted data".
_CONFUSABLES = str.maketrans(
    {
        **dict.fromkeys("\u2039\u3008\u27e8\u02c2\u1438\u276e\u29fc", "<"),
        **dict.fromkeys("\u2215\u2044\u29f8\u2571\u27cb", "/"),
        **dict.fromkeys("\u0430\u0410\u03b1\u0391\u1d00", "a"),
        **dict.fromkeys("\u0435\u0415\u0395\u1d07", "e"),
        **dict.fromkeys("\u0455\u0405\ua731", "s"),
        **dict.fromkeys("\u0442\u0422\u03c4\u03a4\u1d1b", "t"),
        **dict.fromkeys("\u03c5\u057d\u1d1c", "u"),
        **dict.fromkeys("\u0578\u039d\u0274", "n"),
        **dict.fromkeys("\u0433\u0280", "r"),
        **dict.fromkeys("\u0501\u1d05", "d"),
    }
)


def _fold(text: str) -> tuple[str, list[int]]:
    """``text`` as a reader sees it (compatibility forms, confusables folded, invisible and
    combining characters dropped), with the index in ``text`` of each folded character."""
    if text.isascii():
        return text, list(range(len(text)))
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if unicodedata.category(char) in {"Cf", "Mn"}:
            continue
        shown = unicodedata.normalize("NFKC", char).translate(_CONFUSABLES)
        folded.append(shown)
        origin.extend([index] * len(shown))
    return "".join(folded), origin


def escape_data(text: str) -> str:
    """Make data unable to open or close an ``untrusted-data`` block: the bracket of every
    tag-like spelling becomes ``&lt;``."""
    folded, origin = _fold(text)
    brackets = {origin[match.start()] for match in _TAG_LIKE.finditer(folded)}
    if not brackets:
        return text
    return "".join("&lt;" if i in brackets else char for i, char in enumerate(text))


def data_block(name: str, body: str) -> str:
    return f"{DATA_OPEN.format(name=name)}\n{escape_data(body)}\n{DATA_CLOSE}"


__all__ = ["DATA_CLOSE", "DATA_OPEN", "data_block", "escape_data"]
