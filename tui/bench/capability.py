"""Whether a capability the bench measures has been built yet (issue by issue, the bench grows)."""

from __future__ import annotations

import importlib


def missing(module: str, attribute: str | None = None) -> str | None:
    """None when `module` (and `attribute` in it) can be imported; else why not, for the report."""
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return f"{module} is not built yet"
        raise
    if attribute is not None and not hasattr(imported, attribute):
        return f"{module}.{attribute} is not built yet"
    return None
