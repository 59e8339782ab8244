"""The parameter handling the in-memory estimators share (after scikit-learn's ``BaseEstimator``):
``__init__`` stores its keyword-only arguments as attributes, named in ``_PARAMS``."""

from __future__ import annotations

from typing import Any, ClassVar


class ParamsMixin:
    """``get_params`` / ``set_params`` / ``__repr__`` over the names in ``_PARAMS``."""

    _PARAMS: ClassVar[tuple[str, ...]] = ()

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters as a dict (``deep`` is accepted for scikit-learn
        compatibility; no parameter is itself an estimator)."""
        return {k: getattr(self, k) for k in self._PARAMS}

    def set_params(self, **params: Any) -> Any:
        """Set constructor parameters; returns self. Raises ValueError for an unknown name."""
        for k, v in params.items():
            if k not in self._PARAMS:
                raise ValueError(f"unknown parameter {k!r} for {type(self).__name__}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        defaults = type(self)().get_params()
        changed = {k: v for k, v in self.get_params().items() if v is not defaults[k] and v != defaults[k]}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"
