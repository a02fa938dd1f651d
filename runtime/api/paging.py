"""Paging of the list calls: `MaxItems` (at most 50 a page, whatever it says) and an opaque `Marker`."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TypeVar

from lambdatop.runtime.errors import InvalidParameterValue

LIST_PAGE_LIMIT = 50  # ListFunctions, ListVersionsByFunction and ListAliases return at most 50 per page
T = TypeVar("T")


def paged(items: Sequence[T], marker: str | None, max_items: str | None, operation: str) -> tuple[Sequence[T], str | None]:
    """One page of a list call (`MaxItems`, at most 50, from `Marker`) and the NextMarker, None on the last page."""
    start = _decode_marker(marker, len(items), operation)
    page = LIST_PAGE_LIMIT
    if max_items is not None:
        try:
            page = int(max_items)
        except ValueError:
            raise InvalidParameterValue(f"MaxItems must be an integer, got {max_items!r}") from None
        if not 1 <= page <= 10000:
            raise InvalidParameterValue("MaxItems must be between 1 and 10000")
        page = min(page, LIST_PAGE_LIMIT)
    return items[start : start + page], (_encode_marker(start + page) if start + page < len(items) else None)


def _encode_marker(index: int) -> str:
    return base64.urlsafe_b64encode(f"lambdatop:{index}".encode()).decode()


def _decode_marker(marker: str | None, count: int, operation: str) -> int:
    if not marker:
        return 0
    refused = f"Invalid Marker: it must be a NextMarker from a previous {operation} response"
    try:
        prefix, _, index = base64.urlsafe_b64decode(marker.encode()).decode().partition(":")
        value = int(index)
    except (ValueError, UnicodeDecodeError):
        raise InvalidParameterValue(refused) from None
    if prefix != "lambdatop" or not 0 <= value <= count:
        raise InvalidParameterValue(refused)
    return value
