"""The base class of every spimpact estimator: settings, not data.

An estimator's settings are the parameters of its ``__init__``, each stored
unchanged on an attribute of the same name (``self.x = x``; nothing else
happens in ``__init__``). From that signature :class:`Estimator` derives

* :meth:`~Estimator.get_params` and :meth:`~Estimator.set_params`, following
  scikit-learn's convention (``deep=True`` includes ``name__sub`` settings of
  a nested scikit-learn object such as a propensity classifier), so that
  :func:`sklearn.base.clone` and parameter grids work;
* a repr showing every setting that differs from its default;
* :func:`all_estimators`, the registry of the public estimators of
  :mod:`spimpact.did`, :mod:`spimpact.matching`, :mod:`spimpact.its` and
  :mod:`spimpact.bayes` that the conformance tests run on.

Options are checked in one place: each estimator's ``_validate()``, called
at the start of ``fit``. ``__init__`` and ``set_params`` only store values
(as in scikit-learn), so an invalid value raises
:class:`~spimpact.errors.OptionError` when the estimator is fitted, naming
the option, the value and what it accepts.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Self

from ._memory import hugepage_advice_off
from .errors import NotFittedError, OptionError
from .results import Result, _check_confidence

__all__ = ["Estimator", "all_estimators", "check_confidence"]

#: What a result offers: asked of an estimator, these raise NotFittedError.
_RESULT_NAMES = frozenset(n for n in dir(Result) if not n.startswith("_")) | {
    "result", "results", "params", "coef", "aggregate", "pretest", "influence"}

#: The families whose exported estimators :func:`all_estimators` lists.
FAMILIES = ("did", "matching", "its", "bayes")


class Estimator:
    """Base class: settings read from the ``__init__`` signature.

    Subclasses define ``__init__`` with explicit parameters (no ``*args`` or
    ``**kwargs``) that it stores unchanged as attributes of the same name,
    ``_validate()`` that checks them (raising
    :class:`~spimpact.errors.OptionError`), and ``fit(panel)`` that starts by
    calling ``_validate()`` and returns a new result.

    Examples
    --------
    >>> from spimpact.did import CallawaySantAnna
    >>> est = CallawaySantAnna(method="reg")
    >>> est
    CallawaySantAnna(method='reg')
    >>> est.set_params(anticipation=1).get_params()["anticipation"]
    1
    >>> from sklearn.base import clone
    >>> clone(est)
    CallawaySantAnna(method='reg', anticipation=1)
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # every fit runs with numpy's huge-page advice off (spimpact._memory)
        if "fit" in cls.__dict__:
            cls.fit = hugepage_advice_off(cls.__dict__["fit"])  # type: ignore[attr-defined]

    @classmethod
    def _param_names(cls) -> tuple[str, ...]:
        """The settings: the ``__init__`` parameters, in signature order."""
        init = cls.__init__
        if init is object.__init__:
            return ()
        params = [p for p in inspect.signature(init).parameters.values() if p.name != "self"]
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ takes *{p.name}; estimators name "
                                f"every setting explicitly so that get_params() can list them.")
        return tuple(p.name for p in params)

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        """Each setting's default (settings without one are left out)."""
        sig = inspect.signature(cls.__init__)
        return {p.name: p.default for p in sig.parameters.values()
                if p.name != "self" and p.default is not p.empty}

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The estimator's settings.

        Parameters
        ----------
        deep : bool
            Also list the settings of nested scikit-learn-style objects (for
            example a propensity classifier passed as ``ps_model``) as
            ``"ps_model__C"``.

        Returns
        -------
        dict
            Setting name to value.
        """
        out: dict[str, Any] = {}
        for name in self._param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params(deep=True).items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Self:
        """Change settings in place and return the estimator.

        ``name__sub=value`` sets ``sub`` on a nested object's own
        ``set_params``. The values are checked when the estimator is fitted.

        Raises
        ------
        OptionError
            A name that is not a setting of this estimator.
        """
        if not params:
            return self
        valid = self.get_params(deep=True)
        names = self._param_names()
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, sep, sub = key.partition("__")
            if name not in names:
                raise OptionError(
                    f"{type(self).__name__} has no setting {name!r}; its settings are "
                    f"{list(names)}."
                )
            if sep:
                if not hasattr(valid[name], "set_params"):
                    raise OptionError(
                        f"{key!r}: the setting {name!r} of {type(self).__name__} "
                        f"({valid[name]!r}) has no settings of its own."
                    )
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self

    def _validate(self) -> Any:
        """Check the settings; raise :class:`~spimpact.errors.OptionError`.

        Called at the start of ``fit``. Returns nothing, or the checked
        settings in the form the fit uses (the ITS estimators return their
        ``ITSOptions``).
        """
        return None

    def __getattr__(self, name: str) -> Any:
        """Result attributes asked of the estimator raise
        :class:`~spimpact.errors.NotFittedError` saying where the result is:
        ``fit`` returns it and leaves the estimator unchanged.

        Examples
        --------
        >>> from spimpact.did import TWFE
        >>> try:
        ...     TWFE().summary()
        ... except AttributeError as exc:
        ...     print(type(exc).__name__, str(exc)[:41])
        NotFittedError TWFE has no 'summary': an estimator holds
        """
        if not name.startswith("_") and (name in _RESULT_NAMES or name.endswith("_")):
            who = type(self).__name__
            raise NotFittedError(
                f"{who} has no {name!r}: an estimator holds its settings only, and fit(panel) "
                f"returns a new result; write res = {who}(...).fit(panel), then res.{name}."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        defaults = self._defaults()
        shown = []
        for name in self._param_names():
            value = getattr(self, name)
            if name in defaults and _same(value, defaults[name]):
                continue
            shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


def check_confidence(confidence: Any) -> None:
    """The check of the ``confidence`` setting that every estimator's ``_validate`` makes.

    Examples
    --------
    >>> check_confidence(0.9)
    >>> check_confidence(95)
    Traceback (most recent call last):
    ...
    spimpact.errors.OptionError: confidence must be in (0, 1), e.g. 0.95; got 95.
    """
    _check_confidence(confidence)


def _same(value: Any, default: Any) -> bool:
    """Whether a setting still has its default value (by identity or repr, so that
    arrays, generators and other objects without a plain ``==`` compare safely)."""
    if value is default:
        return True
    if type(value) is not type(default):
        return False
    return repr(value) == repr(default)


def all_estimators() -> list[tuple[str, type[Estimator]]]:
    """The public estimators of every family: ``(name, class)`` pairs.

    Every :class:`Estimator` subclass listed in the ``__all__`` of
    :mod:`spimpact.did`, :mod:`spimpact.matching`, :mod:`spimpact.its` and
    :mod:`spimpact.bayes` (which imports PyMC only when a model is fitted).
    The conformance tests run on this list, so an estimator is covered the
    day it is exported.

    Examples
    --------
    >>> names = [name for name, _ in all_estimators()]
    >>> "CallawaySantAnna" in names and "MultilevelITS" in names
    True
    """
    found: dict[str, type[Estimator]] = {}
    for family in FAMILIES:
        module = importlib.import_module(f"spimpact.{family}")
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, Estimator):
                found[name] = obj
    return list(found.items())
