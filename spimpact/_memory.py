"""numpy's huge-page advice, switched off while the package computes.

numpy asks the Linux kernel for transparent huge pages for every large
array (``madvise``). Where the kernel is set to compact memory when they are
asked for (``/sys/kernel/mm/transparent_hugepage/defrag`` = ``madvise``, a
common default), the first touch of fresh memory can then wait for
compaction: seconds per gigabyte on a machine whose free memory is
fragmented (``benchmarks/bench_first_touch.py`` measured 4.6 s for 0.8 GB,
0.4 s without the advice). The package's large computations allocate many
short-lived arrays and read them in order, which huge pages barely speed up,
so building a Panel and fitting an estimator run with the advice off and
restore it afterwards. A process that sets ``NUMPY_MADVISE_HUGEPAGE`` itself
(to either value) has chosen: it is then left alone.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

__all__ = ["hugepage_advice_off", "without_hugepage_advice"]

F = TypeVar("F", bound=Callable[..., Any])


def _setter() -> Callable[[bool], bool] | None:
    """numpy's switch (``_set_madvise_hugepage``: sets it, returns the old
    value), or None where this numpy has none."""
    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            module = __import__(name, fromlist=["_set_madvise_hugepage"])
        except ImportError:
            continue
        setter = getattr(module, "_set_madvise_hugepage", None)
        if setter is not None:
            return setter
    return None


@contextlib.contextmanager
def without_hugepage_advice() -> Iterator[None]:
    """numpy's huge-page advice off inside the block, restored after it
    (unchanged when the environment sets ``NUMPY_MADVISE_HUGEPAGE``)."""
    setter = _setter()
    if setter is None or "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        yield
        return
    previous = setter(False)
    try:
        yield
    finally:
        setter(previous)


def hugepage_advice_off(func: F) -> F:
    """Decorator: ``func`` runs :func:`without_hugepage_advice`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with without_hugepage_advice():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
