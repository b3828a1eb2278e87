"""Small helpers shared by the simulators: seeding, validation, labels, periods.

Every simulator splits its randomness into independent *streams* (one
generator per job: structure, outcome draws, effect coupling, attrition...), so
that changing one option (say the effect) leaves every other random draw
unchanged. That is what lets a user draw the potential outcomes ``Y(0)`` and
``Y(1)`` with common random numbers: run the generator twice with the same seed,
once with ``effect="none"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import OptionError

__all__ = [
    "RandomState",
    "streams",
    "check_choice",
    "check_int",
    "check_real",
    "check_mapping",
    "to_period",
    "labels",
    "periods_from_ordinals",
    "expit",
    "FrozenMap",
]

RandomState = int | np.random.Generator | None

_NAT_ORDINAL = np.iinfo(np.int64).min


class FrozenMap(Mapping[str, Any]):
    """A read-only, hashable, picklable mapping (parameter tables of frozen dataclasses).

    Examples
    --------
    >>> m = FrozenMap({"a": 1.0})
    >>> m["a"], dict(m)
    (1.0, {'a': 1.0})
    """

    __slots__ = ("_d",)
    _d: dict[str, Any]

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_d", dict(data or {}))

    def __getitem__(self, key: str) -> Any:
        return self._d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._d.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._d) == dict(other)

    def __repr__(self) -> str:
        return f"FrozenMap({self._d!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (self._d,))


def streams(random_state: RandomState, names: Iterable[str]) -> dict[str, np.random.Generator]:
    """Independent generators, one per named job, all derived from ``random_state``.

    The same ``random_state`` (an int) always gives the same streams; a
    ``Generator`` is advanced once (it draws the child seeds).

    Examples
    --------
    >>> s = streams(1, ["a", "b"])
    >>> float(s["a"].random()) == float(streams(1, ["a", "b"])["a"].random())
    True
    """
    if not (random_state is None or isinstance(random_state, (int, np.integer, np.random.Generator))):
        raise OptionError(
            f"random_state must be an int, None or a numpy.random.Generator, not "
            f"{type(random_state).__name__} ({random_state!r}); e.g. random_state=42."
        )
    names = list(names)
    rng = np.random.default_rng(random_state)
    seeds = rng.integers(0, 2**63 - 1, size=len(names), dtype=np.int64)
    return {n: np.random.default_rng(int(s)) for n, s in zip(names, seeds, strict=True)}


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    """Raise :class:`OptionError` unless ``value`` is one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        raise OptionError(f"{name} must be one of {choices}, not {value!r}.")


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> None:
    """Raise :class:`OptionError` unless ``value`` is an int in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise OptionError(f"{name} must be an integer, not {type(value).__name__} ({value!r}).")
    if low is not None and value < low:
        raise OptionError(f"{name} must be at least {low}, not {value!r}.")
    if high is not None and value > high:
        raise OptionError(f"{name} must be at most {high}, not {value!r}.")


def check_real(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    strict: bool = False,
) -> None:
    """Raise :class:`OptionError` unless ``value`` is a finite number in range.

    ``strict=True`` excludes the bounds.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise OptionError(f"{name} must be a number, not {type(value).__name__} ({value!r}).")
    if not np.isfinite(value):
        raise OptionError(f"{name} must be finite, not {value!r}.")
    below = low is not None and (value <= low if strict else value < low)
    above = high is not None and (value >= high if strict else value > high)
    if below or above:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        brackets = "()" if strict else "[]"
        raise OptionError(
            f"{name} must lie in {brackets[0]}{lo}, {hi}{brackets[1]}, not {value!r}."
        )


def check_mapping(
    name: str, value: Any, defaults: Mapping[str, Any], allowed: Iterable[str] | None = None
) -> dict[str, Any]:
    """Merge a user's ``{outcome: value}`` mapping into ``defaults``.

    Unknown keys raise :class:`OptionError` naming them and the known keys.
    """
    if not isinstance(value, Mapping):
        raise OptionError(
            f"{name} must be a mapping {{outcome: value}}, not {type(value).__name__} "
            f"({value!r}); e.g. {name}={dict(list(defaults.items())[:1])!r}."
        )
    known = set(defaults if allowed is None else allowed)
    unknown = sorted(set(value) - known)
    if unknown:
        raise OptionError(f"{name} has unknown keys {unknown}; known keys are {sorted(known)}.")
    return {**defaults, **value}


def to_period(name: str, value: Any, freq: str) -> pd.Period:
    """Read ``value`` (``"2019Q3"``, ``"2019-07"``, a Period or a date) as a Period of ``freq``."""
    try:
        p = pd.Period(value, freq=freq)
    except (ValueError, TypeError) as exc:
        example = "'2019Q3'" if freq == "Q" else "'2019-07'"
        raise OptionError(
            f"{name} must be a {'quarter' if freq == 'Q' else 'month'} such as {example} "
            f"(or a pandas Period), not {value!r}."
        ) from exc
    if p is pd.NaT:
        raise OptionError(f"{name} must be a period, not missing ({value!r}).")
    return p


def labels(prefix: str, n: int, width: int) -> np.ndarray:
    """``n`` identifiers ``prefix`` + zero-padded 1-based number (wider when needed).

    Examples
    --------
    >>> labels("PCN", 3, 4).tolist()
    ['PCN0001', 'PCN0002', 'PCN0003']
    """
    width = max(width, len(str(n)))
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def periods_from_ordinals(ordinals: np.ndarray, freq: str) -> pd.PeriodIndex:
    """Periods of ``freq`` from integer ordinals; ``-1`` or NaN-like sentinel means NaT."""
    o = np.asarray(ordinals)
    if o.dtype.kind == "f":
        o = np.where(np.isfinite(o), o, _NAT_ORDINAL).astype(np.int64)
    return pd.PeriodIndex.from_ordinals(o.astype(np.int64), freq=freq)


def expit(x: np.ndarray) -> np.ndarray:
    """Logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))
