"""The language a person's notices are written in, as their browser's `Accept-Language` prefers it."""

from typing import Literal

Language = Literal["zh-CN", "en"]

# Any Chinese variant reads zh-CN notices (the only Chinese written), any English variant en.
_BY_PRIMARY_TAG: dict[str, Language] = {"zh": "zh-CN", "en": "en"}


def preferred_language(accept_language: str | None) -> Language | None:
    """The supported language the header ranks highest by q-value (the first named on a tie), or None when it
    names neither (a wildcard says nothing about which)."""
    best: tuple[float, Language] | None = None
    for part in (accept_language or "")[:512].split(","):
        tag, *parameters = (piece.strip() for piece in part.split(";"))
        language = _BY_PRIMARY_TAG.get(tag.lower().split("-")[0])
        quality = _quality(parameters)
        if language is not None and quality > 0 and (best is None or quality > best[0]):
            best = (quality, language)
    return best[1] if best else None


def _quality(parameters: list[str]) -> float:
    """The `q` parameter (1 when absent); a malformed or out-of-range one counts as 0 (not acceptable)."""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0
