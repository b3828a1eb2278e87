"""Reading a user's data into pandas, and the integer keys of a panel's rows."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from .errors import PanelError

__all__ = ["COPY_ON_WRITE", "readonly", "sorted_distinct", "to_pandas", "unit_codes"]


def to_pandas(data: Any) -> pd.DataFrame:
    """A pandas DataFrame from a pandas or polars frame (lazy ones collected)
    or a CSV/parquet path; the user's frame itself, never a copy."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if isinstance(path, str) and "://" in path:
            raise PanelError(
                f"Panel reads local files and data frames only, not {path!r}: download the "
                f"file first (and check it), then pass its local path or a DataFrame."
            )
        if path.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        if path.endswith((".csv", ".csv.gz", ".txt")):
            return pd.read_csv(path)
        raise PanelError(f"cannot read {path!r}: give a .csv or .parquet file, or a DataFrame.")
    if type(data).__module__.split(".")[0] == "polars":
        if hasattr(data, "collect") and not hasattr(data, "to_pandas"):
            data = data.collect()  # a LazyFrame
        if hasattr(data, "to_pandas"):
            return data.to_pandas()
    raise PanelError(
        f"data must be a pandas or polars DataFrame (or a CSV/parquet path), "
        f"not {type(data).__name__}."
    )


# pandas 3 always copies on write: a column selection then never shares changes with
# the user's frame, so it needs no eager copy (1M x 20 panel: ~1 s and ~1 GB saved).
COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or bool(
    getattr(getattr(pd.options, "mode", None), "copy_on_write", False) is True
)


def readonly(a: np.ndarray) -> np.ndarray:
    """``a`` as an array that refuses writes (a Panel's arrays are shared)."""
    a = np.asarray(a)
    a.flags.writeable = False
    return a


def unit_codes(values: pd.Series) -> tuple[np.ndarray, Any]:
    """Sorted integer codes of the units; linear time when the ids arrive sorted."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values.dtype
    ):
        arr = values.to_numpy()
        if arr.dtype.kind in "iu" and len(arr) > 1 and bool(np.all(arr[1:] >= arr[:-1])):
            change = arr[1:] != arr[:-1]
            codes = np.empty(len(arr), dtype=np.intp)
            codes[0] = 0
            np.cumsum(change, out=codes[1:])
            return codes, arr[np.concatenate(([0], np.flatnonzero(change) + 1))]
    codes, labels = pd.factorize(values, sort=True)
    return codes.astype(np.intp, copy=False), labels


def sorted_distinct(ucode: np.ndarray, tcode: np.ndarray) -> bool:
    """Whether rows are sorted by unit, then period, with no (unit, period) twice
    (checked on neighbours, without forming a combined key)."""
    if len(ucode) < 2:
        return True
    later_unit = ucode[1:] > ucode[:-1]
    if not np.all(later_unit | (ucode[1:] == ucode[:-1])):
        return False
    return bool(np.all(later_unit | (tcode[1:] > tcode[:-1])))
