"""Errors raised by the readers in :mod:`clustering.io`."""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """An input file cannot be read at all (missing, undecodable, unusable).

    The message is one line and starts with the file name, e.g.
    ``"page.txt: no such file"``. Problems with single records inside a readable file are not
    errors: they are counted in a :class:`~clustering.records.SkipReport` instead.
    """
