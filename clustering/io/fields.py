"""Coercion of raw record values (from JSON, CSV or Parquet) to the text fields of an Article.

Rules (also in the README's "Bad input" table):

- ``None``, NaN and empty strings are "absent".
- Strings are kept, with C0 control characters (other than tab/newline/CR) removed and
  surrounding whitespace stripped.
- Numbers (int, finite float, Decimal; not bool) are their text: ``12`` and ``12.0`` give
  ``"12"`` (an integral float is an integer id that pandas wrote as float), ``1.5`` gives
  ``"1.5"``.
- Bytes (Parquet binary columns) are decoded as strict UTF-8.
- Anything else (a JSON object or list, a boolean, a non-finite number, bytes that are not UTF-8,
  a string holding a lone surrogate such as JSON's ``"\\ud800"``) is a :class:`FieldError`: the
  record is a counted skip whose reason is the error message. A Python repr is never stored, and
  a lone surrogate never reaches DuckDB, pyarrow or the hashing, which all encode UTF-8.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

__all__ = ["FieldError", "has_lone_surrogate", "printable", "text_field"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class FieldError(ValueError):
    """A value cannot be used for a field; ``str(exc)`` is the skip reason."""


def has_lone_surrogate(s: str) -> bool:
    """Whether ``s`` holds a surrogate code point (U+D800-U+DFFF), which UTF-8 cannot encode."""
    return _SURROGATE.search(s) is not None


def printable(s: str) -> str:
    """``s`` safe for a terminal, a log or a database: lone surrogates (e.g. from a file name in
    an undecodable byte encoding) written as ``\\udcxx`` escapes."""
    if not has_lone_surrogate(s):
        return s
    return s.encode("utf-8", errors="backslashreplace").decode("utf-8")


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    return f"a {type(value).__name__}"


def text_field(value: Any, name: str, *, surrogates: bool = True) -> str:
    """The text of one raw field value, by the rules in the module docstring.

    Args:
        value: the raw value (str, number, bytes, None, ... as a reader produced it).
        name: our field name (``id``, ``title``, ...), used in the error message.
        surrogates: check str values for lone surrogates; False only when the caller knows they
            cannot hold one.

    Returns:
        The cleaned text; ``""`` for an absent value.

    Raises:
        FieldError: the value has a type that is not text or a number, is a non-finite number,
            is bytes that are not UTF-8, or holds a lone surrogate.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        s = value
    elif isinstance(value, bool):
        raise FieldError(f"wrong type: {name} is a boolean")
    elif isinstance(value, int):
        s = str(value)
    elif isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            raise FieldError(f"wrong type: {name} is an infinite number")
        s = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise FieldError(f"wrong type: {name} is not a finite number")
        s = str(value)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        try:
            s = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise FieldError(f"invalid UTF-8 bytes in {name}") from None
    else:
        raise FieldError(f"wrong type: {name} is {_kind(value)}")
    if surrogates and has_lone_surrogate(s):
        raise FieldError(f"invalid Unicode (lone surrogate) in {name}")
    return _CONTROL.sub("", s).strip()
