"""Warnings attributed to the user's line.

A warning raised deep inside spimpact is most useful when it points at the
line of the user's code that called into the package. Counting stack levels by
hand breaks whenever a call path changes; :func:`warn` instead walks the stack
and reports the first frame outside the package.
"""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["warn", "user_stacklevel"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes :func:`warnings.warn`, called by the caller of
    this function, name the first frame outside the spimpact package.

    Examples
    --------
    >>> user_stacklevel() >= 1
    True
    """
    frame = sys._getframe(1)  # the function that will call warnings.warn
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn(message: str, category: type[Warning]) -> None:
    """Emit ``message`` as ``category``, attributed to the user's calling line.

    Examples
    --------
    >>> import warnings
    >>> from spimpact.errors import DataWarning
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("two rows set aside", DataWarning)
    >>> caught[0].category.__name__
    'DataWarning'
    """
    warnings.warn(message, category, stacklevel=user_stacklevel())
