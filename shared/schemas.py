"""Pydantic building blocks shared by every service's input and output schemas."""

import re
from typing import Annotated, Any

from fastapi import Header
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from shared.errors import pointer_for


def _nul_path(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return (*path, key)
            found = _nul_path(item, (*path, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, (*path, index))
            if found is not None:
                return found
    return None


class Input(BaseModel):
    """Base of every request body: unknown fields are refused (clients cannot set server-owned fields)
    and NUL characters never reach PostgreSQL, which cannot store them."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _reject_nul(cls, data: Any) -> Any:
        path = _nul_path(data)
        if path is not None:
            raise PydanticCustomError("nul_character", "NUL character at {where}", {"where": pointer_for(path)})
        return data


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


LANGUAGE_TAG_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$"
UNDETERMINED_LANGUAGE = "und"  # BCP 47 tag for text given as a plain string


def _as_language_map(value: Any) -> Any:
    return {UNDETERMINED_LANGUAGE: value} if isinstance(value, str) else value


LanguageTag = Annotated[str, Field(pattern=LANGUAGE_TAG_PATTERN, max_length=35)]
_TEXT_EXAMPLE = {"zh-CN": "西湖读书节", "en": "West Lake Reading Festival"}

MAX_TRANSLATIONS = 12


def _localized_input_schema(max_length: int) -> dict[str, Any]:
    """What clients may send, exactly as validated: a string, or 1..12 translations keyed by language tag
    (pydantic alone would document neither the string form nor the key pattern as a constraint)."""
    text = {"type": "string", "minLength": 1, "maxLength": max_length}
    translations = {
        "type": "object",
        "minProperties": 1,
        "maxProperties": MAX_TRANSLATIONS,
        "propertyNames": {"pattern": LANGUAGE_TAG_PATTERN, "maxLength": 35},
        "additionalProperties": text,
    }
    return {"anyOf": [text, translations], "examples": [_TEXT_EXAMPLE]}


# Multilingual text: a string, or `{"zh-CN": "...", "en": "..."}`; always stored and returned as the object.
LocalizedTitle = Annotated[
    dict[LanguageTag, Annotated[str, Field(min_length=1, max_length=200)]],
    BeforeValidator(_as_language_map),
    Field(min_length=1, max_length=MAX_TRANSLATIONS),
    WithJsonSchema(_localized_input_schema(200), mode="validation"),
]
LocalizedDescription = Annotated[
    dict[LanguageTag, Annotated[str, Field(min_length=1, max_length=5000)]],
    BeforeValidator(_as_language_map),
    Field(min_length=1, max_length=MAX_TRANSLATIONS),
    WithJsonSchema(_localized_input_schema(5000), mode="validation"),
]
# The output side: multilingual text as stored, and the translation `Accept-Language` picked.
LocalizedText = Annotated[
    dict[str, str], Field(description="Text by BCP 47 language tag ('und': not stated)", examples=[_TEXT_EXAMPLE])
]
DisplayText = Annotated[
    str, Field(description="The translation that best matches `Accept-Language`", examples=[_TEXT_EXAMPLE["zh-CN"]])
]


def absent_not_null(schema: dict[str, Any]) -> None:
    """`json_schema_extra=` of an optional field that may be left out but not set to null (its validator
    refuses null): document it without `null` and without a null default. Validation is unchanged, so error
    pointers stay `/body/<field>`."""
    schema.pop("default", None)
    options = [option for option in schema.get("anyOf", []) if option.get("type") != "null"]
    if "anyOf" in schema:
        del schema["anyOf"]
        if len(options) == 1:
            schema.update(options[0])
        else:
            schema["anyOf"] = options


def _rfc3339_text(value: Any) -> Any:
    """Times travel as RFC 3339 text. Pydantic would also read a number (or a numeric string) as seconds
    since 1970, which the OpenAPI `date-time` format does not allow: refuse it."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMERIC.fullmatch(value.strip())):
        raise PydanticCustomError("datetime_text", "Expected an RFC 3339 date-time, e.g. 2027-03-02T19:00:00+08:00")
    return value


_NUMERIC = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# Put before a datetime type: `Annotated[AwareDatetime, Rfc3339Only]`.
Rfc3339Only = BeforeValidator(_rfc3339_text)


def pick_language(text: dict[str, str] | None, accept_language: str | None) -> str | None:
    """The best translation for an `Accept-Language` header; falls back to en, zh-CN, then any."""
    if not text:
        return None
    lowered = {tag.lower(): tag for tag in text}
    for wanted in _preferences(accept_language):
        if wanted in lowered:
            return text[lowered[wanted]]
        primary = wanted.split("-")[0]
        for tag_lower, tag in lowered.items():
            if tag_lower.split("-")[0] == primary:
                return text[tag]
    for fallback in ("en", "zh-cn", UNDETERMINED_LANGUAGE):
        if fallback in lowered:
            return text[lowered[fallback]]
    return next(iter(text.values()))


def _preferences(accept_language: str | None) -> list[str]:
    if not accept_language:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language[:512].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag.lower()))
    return [tag for _, _, tag in sorted(weighted)]


AcceptLanguage = Annotated[
    str | None, Header(max_length=512, description="Picks the language of `*_display` fields, e.g. `zh-CN, en;q=0.8`")
]
