"""Optional dependencies of the Bayesian family, imported only when used.

PyMC, ArviZ and nutpie form the ``bayes`` extra. Nothing here is imported by
``import spimpact`` or ``import spimpact.bayes``: each is loaded the first time
a model is built or sampled, and a missing one raises
:class:`~spimpact.errors.DependencyError` with the install command.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import DependencyError

__all__ = ["INSTALL_HINT", "require", "pymc", "arviz", "nutpie_or_none"]

#: The command that installs the Bayesian extra.
INSTALL_HINT = "pip install 'spimpact[bayes]'"


def require(name: str, purpose: str = "spimpact's Bayesian models") -> ModuleType:
    """Import ``name`` or raise :class:`DependencyError` with the install hint.

    Examples
    --------
    >>> require("math").sqrt(4.0)
    2.0
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise DependencyError(
            f"{purpose} need the package {name!r}, which is not installed (or failed to import: "
            f"{exc}). Install the Bayesian extra: {INSTALL_HINT}"
        ) from exc


def pymc() -> ModuleType:
    """The ``pymc`` module."""
    return require("pymc")


def arviz() -> ModuleType:
    """The ``arviz`` module."""
    return require("arviz")


def nutpie_or_none() -> ModuleType | None:
    """``nutpie`` if it imports, else ``None`` (the caller falls back to PyMC's NUTS)."""
    try:
        return importlib.import_module("nutpie")
    except ImportError:
        return None
