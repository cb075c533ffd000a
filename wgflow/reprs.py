"""``repr`` from what an object already knows: its ``parameters()`` or ``describe()``."""

from __future__ import annotations

__all__ = ["ParametersRepr", "short"]


def short(value, limit: int = 60) -> str:
    """``repr`` of a value, dicts and lists as JSON, cut to ``limit`` characters.

    Parameters
    ----------
    value : object
        Any value; a dict or list is shown as JSON (``wgflow.io.to_json``).
    limit : int
        Longest text returned, ≥ 1 (characters).

    Returns
    -------
    str
        The text, or its first ``limit − 1`` characters followed by ``…`` when longer.
    """
    from .io import to_json

    text = to_json(value) if isinstance(value, dict | list) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ParametersRepr:
    """Mixin: ``Name(key=value, …)`` from ``parameters()`` (else ``describe()``)."""

    def __repr__(self) -> str:
        sources = (getattr(self, "parameters", None), getattr(self, "describe", None))
        source = next((f for f in sources if callable(f)), None)
        try:
            params = dict(source()) if source is not None else {}
        except Exception:  # noqa: BLE001 - a repr must never raise
            params = {}
        shown = ", ".join(
            f"{k}={short(v)}" for k, v in params.items() if k not in ("solver", "kind")
        )
        return f"{type(self).__name__}({shown})"
