"""Which bodies travel as text and which as base64.

Function URLs and HTTP APIs decide by the content type alone: text types go
as they are, anything else is base64 (`is_text`). REST APIs decide by the
API's `BinaryMediaTypes` (`matches_media_type`): a request whose Content-Type
matches one is base64-encoded; a response with `isBase64Encoded` is decoded
when the request's Accept matches one.
"""

from __future__ import annotations

from collections.abc import Iterable

# Bodies of these content types reach the function as text; anything else is base64.
# Inferred (the guide only says "if the content type of the request is binary"):
# form posts arrive base64-encoded on real function URLs, so they count as binary here.
_TEXT_TYPES = ("application/json", "application/javascript", "application/xml", "application/yaml",
               "application/x-yaml", "application/graphql", "application/ld+json")
_TEXT_SUFFIXES = ("+json", "+xml", "+yaml")


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_text(content_type: str) -> bool:
    media = media_type(content_type)
    return media.startswith("text/") or media in _TEXT_TYPES or media.endswith(_TEXT_SUFFIXES)


def as_text(body: bytes, content_type: str) -> str | None:
    """The body as text when its content type is a text one and it is UTF-8; else None (send it base64)."""
    if not is_text(content_type):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def matches_media_type(value: str, binary_media_types: Iterable[str]) -> bool:
    """True when a Content-Type (or any type of an Accept list) matches one of the API's BinaryMediaTypes.

    Patterns may use wildcards as API Gateway allows: `*/*`, `image/*`.
    """
    wanted = [t.strip().lower() for t in binary_media_types if t.strip()]
    if not wanted or not value:
        return False
    for candidate in (media_type(part) for part in value.split(",")):
        if not candidate:
            continue
        kind, _, sub = candidate.partition("/")
        for pattern in wanted:
            p_kind, _, p_sub = pattern.partition("/")
            if p_kind in ("*", kind) and p_sub in ("*", sub):
                return True
    return False
