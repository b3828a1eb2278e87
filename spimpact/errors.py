"""The package's exception and warning hierarchy.

Every error raised by spimpact is a :class:`SpimpactError`. Each also derives
from the built-in exception a caller would expect (``ValueError`` for bad data
or options, ``ImportError`` for a missing optional dependency), so existing
``except ValueError`` handlers keep working.

Statistical red flags that still allow an answer (few clusters, extreme
weights, sampler divergences) are not errors: they are
:class:`StatisticalWarning` instances, emitted once and kept on the result's
``.warnings``.
"""

from __future__ import annotations

__all__ = [
    "SpimpactError",
    "PanelError",
    "EstimationError",
    "OptionError",
    "SpecError",
    "DependencyError",
    "NotFittedError",
    "SpimpactWarning",
    "StatisticalWarning",
    "DataWarning",
]


class SpimpactError(Exception):
    """Root of every exception raised by spimpact."""


class PanelError(SpimpactError, ValueError):
    """The data handed to :class:`spimpact.Panel` cannot be used as given.

    The message names the column, the offending values or rows, and the fix.
    """


class EstimationError(SpimpactError, ValueError):
    """An estimator cannot be computed on this panel (e.g. a cohort without
    valid comparison units)."""


class OptionError(SpimpactError, ValueError):
    """An estimator or function was given an invalid option."""


class SpecError(OptionError):
    """An analysis file for ``spimpact run`` is wrong: the message names the field
    (or the column it refers to) and the fix."""


class DependencyError(SpimpactError, ImportError):
    """An optional dependency is missing; the message says which extra to install."""


class NotFittedError(SpimpactError, AttributeError):
    """A result's attribute (``summary``, ``estimates``, ``overall``...) was asked
    of an estimator. Estimators hold settings only: ``fit(panel)`` returns the
    result and leaves the estimator unchanged, so the attribute is on the result."""


class SpimpactWarning(UserWarning):
    """Base class of spimpact's warnings."""


class DataWarning(SpimpactWarning):
    """Something about the data was handled in a way the user should know about
    (rows with missing outcomes set aside, units dropped to balance a panel)."""


class StatisticalWarning(SpimpactWarning):
    """A statistical red flag: the estimate exists but deserves caution."""
