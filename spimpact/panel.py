"""The one data interface of spimpact: :class:`Panel`.

A :class:`Panel` validates a user's DataFrame once, records which column plays
which role (unit, period, outcome, cohort or treatment, covariates, cluster,
weights, exposure, nesting levels) and converts it once to integer codes and
float arrays. Every estimator family consumes a ``Panel``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ._encoding import COPY_ON_WRITE, readonly, sorted_distinct, to_pandas, unit_codes
from ._memory import hugepage_advice_off
from ._periods import (
    cohort_values,
    encode_factorized_cohorts,
    encode_periods,
)
from ._treatment import (
    TreatmentGrid,
    check_treatment_kind,
    cohort_from_treatment,
    general_treatment,
    treatment_grid,
)
from ._validate import (
    check_dose,
    check_nested,
    check_roles,
    check_weight_scale,
    column_names,
    constant_within,
    no_missing,
    numeric_column,
    require_columns,
    row_examples,
    show,
    varying_groups,
)
from ._warn import warn
from .errors import DataWarning, PanelError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ._sample import UnitSample

__all__ = ["Panel", "PanelKind"]

PanelKind = Literal["panel", "repeated_cross_section", "series", "cross_section"]

_ROLE_NAMES = ("outcome", "unit", "time", "cohort", "treatment", "cluster", "weights", "exposure",
               "dose")


class Panel:
    """Validated panel data, the input of every spimpact estimator.

    Parameters
    ----------
    data : pandas.DataFrame, polars.DataFrame (or LazyFrame), dask DataFrame or path
        Long data: one row per unit and period (panel), per individual
        (repeated cross-sections, one cross-section) or per period (one series).
        It is never modified (the Panel reads its columns as copy-on-write
        views, or copies them where pandas has no copy-on-write); row order
        does not matter. A
        ``dask.dataframe.DataFrame`` gives a :class:`~spimpact.dask_panel.DaskPanel`
        whose rows stay on the workers.
    outcome : str
        Outcome column (a count when ``exposure`` is given, otherwise a score).
    unit : str, optional
        Unit identifier. Omitted: a single series (``time`` given, one row per
        period), repeated cross-sections (``time`` given, several rows per
        period) or one cross-section (no ``time``).
    time : str, optional
        Period column: integers, dates (``datetime64`` or ``datetime.date``),
        pandas Periods, ordered categoricals, or strings such as ``"2019Q3"``
        or ``"2019-07"``. Periods are ordered; outputs keep these labels.
    cohort : str, optional
        The period a unit is first treated, in the time column's type (a date
        or pandas Period for date or Period time). Missing (or ``inf``) means
        never treated. A cohort between two observed periods starts at the
        next observed one; one before the first period means always treated.
    treatment : str, optional
        A 0/1 indicator that, once 1, stays 1; the cohort is each unit's first
        period with a 1 (a unit switching back to 0 is an error). In a
        cross-section, or repeated cross-sections, it marks the treated rows.
        With ``treatment_kind="general"``, any numeric treatment instead.
    treatment_kind : {"absorbing", "general"}
        ``"absorbing"`` (default): ``treatment`` is the 0/1 indicator above and
        defines cohorts. ``"general"``: ``treatment`` may take any finite value
        in each unit and period and go up and down (e.g. staff per 1,000
        patients); the panel then has no cohorts and is for
        :class:`spimpact.did.ChaisemartinDHaultfoeuille` (estimators of a 0/1
        absorbing treatment refuse it). Needs ``unit=`` and ``time=``, and the
        treatment in every row (rows with a missing outcome included).
    never_treated : scalar, optional
        Another code in ``cohort`` that means never treated (R's ``did`` uses 0).
    covariates : sequence of str
        Numeric or categorical covariate columns (one name or None also work).
    cluster : str, optional
        Cluster identifier for inference (constant within a unit).
    weights : str, optional
        Non-negative sampling weights.
    exposure : str, optional
        Population at risk (e.g. practice list size), the offset in rate
        models; positive. The outcome is then a count (non-negative).
    dose : str, optional
        Treatment intensity of each unit (continuous-dose DiD): numeric, finite,
        ``>= 0`` and the same in every row of a unit; 0 for never-treated units
        and ``> 0`` for units with a cohort.
    levels : sequence of str
        Nesting columns from lowest to highest (e.g. ``["practice", "pcn",
        "icb"]``), checked to be nested (the unit in the lowest level too).

    Raises
    ------
    PanelError
        For anything that makes the data unusable, naming the column, the
        values or rows, and the fix.

    Warns
    -----
    DataWarning
        When rows with a missing outcome are set aside, or cohorts fall between
        observed periods (both recorded in :attr:`notes`).

    Examples
    --------
    >>> import pandas as pd
    >>> from spimpact import Panel
    >>> df = pd.DataFrame({"pcn": [1, 1, 2, 2], "quarter": ["2019Q3", "2019Q4"] * 2,
    ...                    "start": ["2019Q4", "2019Q4", None, None], "y": [1.0, 2.0, 1.5, 1.7]})
    >>> p = Panel(df, outcome="y", unit="pcn", time="quarter", cohort="start")
    >>> p.kind, p.n_units, p.n_periods, p.is_balanced
    ('panel', 2, 2, True)
    """

    _frozen = False

    def __new__(cls, data: Any = None, *args: Any, **kwargs: Any) -> Any:
        # a Dask frame stays distributed: its panel is a DaskPanel (rows on the workers)
        if cls is Panel and data is not None and not isinstance(data, pd.DataFrame):
            from .dask_panel import DaskPanel, is_dask_frame

            if is_dask_frame(data):
                return DaskPanel(data, *args, **kwargs)
        return super().__new__(cls)

    def __init__(
        self,
        data: Any,
        *,
        outcome: str,
        unit: str | None = None,
        time: str | None = None,
        cohort: str | None = None,
        treatment: str | None = None,
        never_treated: Any = None,
        covariates: Sequence[str] | str | None = (),
        cluster: str | None = None,
        weights: str | None = None,
        exposure: str | None = None,
        levels: Sequence[str] | str | None = (),
        dose: str | None = None,
        treatment_kind: str = "absorbing",
    ) -> None:
        roles = {
            "outcome": outcome, "unit": unit, "time": time, "cohort": cohort,
            "treatment": treatment, "never_treated": never_treated, "covariates": covariates,
            "cluster": cluster, "weights": weights, "exposure": exposure, "levels": levels,
            "dose": dose, "treatment_kind": treatment_kind,
        }
        self._setup(to_pandas(data), roles, internal=False, quiet=False)

    @hugepage_advice_off
    def _setup(self, source: pd.DataFrame, roles: dict[str, Any], *, internal: bool,
               quiet: bool, notes: Sequence[str] = ()) -> None:
        self.outcome, self.unit, self.time = roles["outcome"], roles["unit"], roles["time"]
        self.cohort, self.treatment = roles["cohort"], roles["treatment"]
        self.never_treated = roles["never_treated"]
        self.covariates = column_names(roles["covariates"], "covariates")
        self.levels = column_names(roles["levels"], "levels")
        self.cluster, self.weights, self.exposure = (
            roles["cluster"], roles["weights"], roles["exposure"])
        self.dose = roles.get("dose")
        self.treatment_kind = roles.get("treatment_kind", "absorbing")
        self._treat: np.ndarray | None = None
        # notes carried over from the panel this one is made from come first
        self._notes: list[str] = list(notes)
        # internal: ``source`` is an already validated frame whose index holds the
        # row positions of the user's data; quiet: its set-aside rows were reported
        self._internal, self._quiet = internal, quiet
        self._build(source)
        self._notes = list(dict.fromkeys(self._notes))
        self._frozen = True

    @classmethod
    def _from_frame(cls, frame: pd.DataFrame, *, quiet: bool, internal: bool = True,
                    notes: Sequence[str] = (), **roles: Any) -> Panel:
        """A Panel on a frame made from an existing Panel, starting with its
        ``notes``; ``internal``: the frame holds the panel's own validated rows
        (their row numbers kept), else it is validated as user data."""
        new = cls.__new__(cls)
        new._setup(frame, roles, internal=internal, quiet=quiet, notes=notes)
        return new

    # ------------------------------------------------------------------ build
    def _columns(self) -> list[str]:
        cols = [getattr(self, r) for r in _ROLE_NAMES if getattr(self, r) is not None]
        return list(dict.fromkeys([*cols, *self.covariates, *self.levels]))

    def _roles(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome, "unit": self.unit, "time": self.time,
            "cohort": self.cohort, "treatment": self.treatment,
            "never_treated": self.never_treated, "covariates": self.covariates,
            "cluster": self.cluster, "weights": self.weights, "exposure": self.exposure,
            "levels": self.levels, "dose": self.dose, "treatment_kind": self.treatment_kind,
        }

    def _build(self, source: pd.DataFrame) -> None:
        if self.outcome is None or (isinstance(self.outcome, str) and not self.outcome):
            raise PanelError("outcome= must name the outcome column, e.g. outcome='ae_attendances'.")
        if self.cohort is not None and self.treatment is not None:
            raise PanelError(
                f"give either cohort= ({self.cohort!r}) or treatment= ({self.treatment!r}), "
                f"not both: the cohort is derived from the treatment indicator."
            )
        check_treatment_kind(self.treatment_kind, self.treatment, self.dose)
        if self.never_treated is not None and self.cohort is None:
            raise PanelError(
                f"never_treated={self.never_treated!r} is a code of the cohort column, but no "
                f"cohort= was given; drop never_treated= (with treatment=, units without a 1 "
                f"are never treated)."
            )
        check_roles({r: getattr(self, r) for r in _ROLE_NAMES}, self.covariates, self.levels)
        roles = {r: [getattr(self, r)] for r in _ROLE_NAMES if getattr(self, r) is not None}
        require_columns(source, {**roles, "covariates": self.covariates, "levels": self.levels})
        if len(source) == 0:
            raise PanelError("data has no rows; a Panel needs at least one observation.")
        cols = self._columns()
        if not COPY_ON_WRITE:  # without copy-on-write a selection may share the user's data
            df = source.loc[:, cols].copy()
        elif source.columns.is_unique:
            # column by column: views of the user's columns that copy-on-write protects
            # (selecting several columns of one pandas block copies them)
            df = pd.DataFrame({c: source[c] for c in cols}, copy=False)
        else:
            df = source.loc[:, cols]
        if not self._internal:
            df.index = pd.RangeIndex(len(df))  # row numbers of the user's data, for messages
        df, self._dropped = self._set_aside_missing_outcome(df)
        self._check_values(df)
        self._encode(df)

    def _set_aside_missing_outcome(self, df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Rows with an outcome, and the rows set aside (reported, never silent)."""
        y = numeric_column(df, self.outcome, "outcome", allow_missing=True)
        miss = np.isnan(y)
        if miss.all():
            raise PanelError(
                f"outcome column {self.outcome!r} is missing in every row ({len(df)} rows)."
            )
        if not miss.any():
            return df, df.iloc[:0]
        if not self._quiet:
            note = (
                f"{int(miss.sum())} rows with a missing outcome {self.outcome!r} were set aside "
                f"(rows {row_examples(df.index[miss])})."
            )
            self._notes.append(note)
            warn(note, DataWarning)
        return df.loc[~miss], df.loc[miss]

    def _check_values(self, df: pd.DataFrame) -> None:
        for col in self.covariates:
            s = df[col]
            if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
                numeric_column(df, col, "covariate")
            else:
                no_missing(df, col, "covariate")
        if self.weights is not None:
            w = numeric_column(df, self.weights, "weights", min_value=0.0)
            if not (w > 0).any():
                raise PanelError(f"weights column {self.weights!r} is zero in every row.")
            check_weight_scale(w, self.weights, df.index)
        if self.exposure is not None:
            numeric_column(df, self.exposure, "exposure", min_value=0.0, strict_min=True)
            # with an exposure the outcome is a count (summed by aggregate, a rate's numerator)
            numeric_column(df, self.outcome, "outcome (a count, as exposure= is given)",
                           min_value=0.0)
        for maybe, role in ((self.unit, "unit"), (self.cluster, "cluster")):
            if maybe is not None:
                no_missing(df, maybe, role, blank=role == "cluster")
        for col in self.levels:
            no_missing(df, col, "levels", blank=True)
        chain = list(self.levels)
        if chain and self.unit is not None and self.unit not in chain:
            chain.insert(0, self.unit)  # each unit sits in one group of every level
        if len(chain) > 1:
            check_nested(df, chain)

    def _encode(self, df: pd.DataFrame) -> None:
        n = len(df)
        if self.time is not None:
            tcode, self._periods = encode_periods(df[self.time], self.time)
        else:
            tcode, self._periods = np.zeros(n, dtype=np.intp), pd.Index([0])
        if self.unit is not None:
            ucode, ulabels = unit_codes(df[self.unit])
            self._units = pd.Index(ulabels, name=self.unit)
        else:
            ucode = np.arange(n, dtype=np.intp)
            self._units = pd.RangeIndex(n, name="row")
        # the usual extract is sorted, with one row per unit and period: no key needed
        if self.unit is not None and self.time is not None and sorted_distinct(ucode, tcode):
            self._kind: PanelKind = "panel"
        else:
            key = ucode.astype(np.int64, copy=False) * len(self._periods) + tcode
            self._kind = self._find_kind(df, ucode, tcode, key)
            if self._kind == "series":
                ucode = np.zeros(n, dtype=np.intp)
                self._units = pd.Index(["series"], name="unit")
                key = tcode
            if not np.all(key[1:] >= key[:-1]):  # most extracts arrive sorted already
                order = np.argsort(key, kind="stable")
                df, ucode, tcode = df.iloc[order], ucode[order], tcode[order]
        self._df = df
        self._ucode, self._tcode = readonly(ucode), readonly(tcode)
        self._y = readonly(df[self.outcome].to_numpy(dtype=float))
        # unit weights are a read-only broadcast of 1.0: no memory for the common case
        self._w = readonly(
            df[self.weights].to_numpy(dtype=float) if self.weights else np.broadcast_to(1.0, n)
        )
        self._exp = readonly(df[self.exposure].to_numpy(dtype=float)) if self.exposure else None
        self._cl, self._clusters = None, None
        if self.cluster is not None:
            cl, cl_labels = pd.factorize(df[self.cluster], sort=True)
            self._cl, self._clusters = readonly(cl.astype(np.intp)), pd.Index(cl_labels)
            if self._kind == "panel":
                constant_within(ucode, cl, self._units, self.cluster, f"units ({self.unit!r})",
                                "a unit must stay in one cluster; cluster on a coarser level.")
        rows, units = self._encode_cohort(df, ucode, tcode)
        # sorted numeric panels keep the cohort per unit; rows gather it on demand
        self._cohort_pos = None if rows is None else readonly(rows)
        self._unit_cohort_pos = None if units is None else readonly(units)
        self._dose = None if self.dose is None else readonly(check_dose(self, df))

    def _find_kind(
        self, df: pd.DataFrame, ucode: np.ndarray, tcode: np.ndarray, key: np.ndarray
    ) -> PanelKind:
        if self.time is None:
            if self.unit is not None and df[self.unit].duplicated().any():
                dup = df.index[df[self.unit].duplicated(keep=False)]
                raise PanelError(
                    f"unit {self.unit!r} repeats in rows {row_examples(dup)} but no time= was "
                    f"given; pass time= for a panel, or keep one row per unit."
                )
            return "cross_section"
        if self.unit is None:
            return "series" if not pd.Series(tcode).duplicated().any() else "repeated_cross_section"
        if np.all(key[1:] > key[:-1]):  # sorted and distinct: the usual extract
            return "panel"
        if int(key.max()) < 8 * len(key) + 1024:
            dup = np.bincount(key)[key] > 1
        else:
            _, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
            dup = cnt[inv] > 1
        if dup.any():
            first = df.index[dup][0]
            raise PanelError(
                f"{int(dup.sum())} rows share a ({self.unit!r}, {self.time!r}) pair with another "
                f"row, e.g. row {first!r} ({self.unit}={df.at[first, self.unit]}, "
                f"{self.time}={df.at[first, self.time]}); keep one row per unit and period "
                f"(aggregate duplicates first), or drop unit= for repeated cross-sections."
            )
        return "panel"

    def _encode_cohort(
        self, df: pd.DataFrame, ucode: np.ndarray, tcode: np.ndarray
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Cohort positions per row, or (for sorted numeric panels) per unit:
        ``(rows, units)``, one of them ``None``."""
        unit_pos = None
        if self.treatment_kind == "general":
            self._treat = readonly(general_treatment(self, df))
            return np.full(len(df), np.inf), None
        if self.cohort is not None:
            pos, between, unit_pos = self._cohort_positions(df, ucode)
        elif self.treatment is not None:
            pos, between = cohort_from_treatment(self, df, ucode, tcode)
        else:
            return np.full(len(df), np.inf), None
        if between.any():
            units = np.unique(ucode[between])
            row = int(np.flatnonzero(between)[0])
            if pos is not None:
                at = pos[row]
            else:
                assert unit_pos is not None
                at = unit_pos[ucode[row]]
            shown = show(self.cohort_label(at))
            if self.cohort is not None:
                note = (
                    f"{len(units)} units have a cohort ({self.cohort!r}) that is not an observed "
                    f"period (e.g. {show(df[self.cohort].iloc[row])} in row "
                    f"{df.index[row]!r}); each starts at the next observed period "
                    f"(here {shown})."
                )
            else:
                note = (
                    f"{len(units)} units are first treated ({self.treatment!r}) in a period "
                    f"whose outcomes are all missing; each starts at the next observed period "
                    f"(e.g. {shown})."
                )
            self._notes.append(note)
            warn(note, DataWarning)
        return pos, unit_pos

    def _cohort_positions(
        self, df: pd.DataFrame, ucode: np.ndarray
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
        """Cohort positions from the cohort column (checked constant within units):
        per row, or per unit (third item) on sorted numeric panels; and the rows
        whose cohort falls between two observed periods."""
        if self.time is None:
            raise PanelError(
                f"cohort={self.cohort!r} needs time= (the period column it refers to); "
                f"for a cross-section use treatment= instead."
            )
        c = df[self.cohort]
        numeric = pd.api.types.is_numeric_dtype(c.dtype) and not pd.api.types.is_bool_dtype(c.dtype)
        if self._kind == "panel" and numeric:
            # Rows are sorted by unit: when every unit has one cohort value, it is
            # classified once per unit (the rows gather it on demand). Otherwise the
            # row path below decides (0 and missing may both mean never treated).
            if len(varying_groups(ucode, c.to_numpy())) == 0:
                first = np.r_[True, ucode[1:] != ucode[:-1]]
                pos, between = self._classify_cohorts(c.iloc[np.flatnonzero(first)], c)
                return None, between[ucode] if between.any() else between[:0], pos
        codes, uniques, never_u = cohort_values(c, c, self.never_treated, self._periods,
                                                self.cohort)
        if self._kind in ("panel", "series"):
            raw = np.where(np.append(never_u, True)[codes], -1, codes)  # -1: never or missing
            what = f"units ({self.unit!r})" if self._kind == "panel" else "the series"
            constant_within(ucode, raw, self._units, self.cohort, what,
                            "the cohort (first treated period) must be the same in every "
                            "row of a unit.")
        pos, between = encode_factorized_cohorts(codes, uniques, never_u, self._periods,
                                                 self.cohort)
        return pos, between, None

    def _classify_cohorts(self, c: pd.Series, full: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        codes, uniques, never_u = cohort_values(c, full, self.never_treated, self._periods,
                                                self.cohort)
        return encode_factorized_cohorts(codes, uniques, never_u, self._periods, self.cohort)

    # ------------------------------------------------------------- immutability
    def __setattr__(self, name: str, value: Any) -> None:
        if self._frozen:
            raise AttributeError(
                "Panel is immutable; build a new one (Panel(...) or panel.replace(...))."
            )
        super().__setattr__(name, value)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickling and :func:`copy.deepcopy` restore the arrays read-only (numpy
        rebuilds them writeable), so a copy is as protected as the original."""
        for value in state.values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
        self.__dict__.update(state)

    def replace(self, **roles: Any) -> Panel:
        """A new Panel on the same (already validated) columns with some roles changed.

        Only the columns the panel already holds (its role columns) can be
        named. Rows set aside for a missing outcome come back into play, so a
        new outcome keeps every row where it is observed.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"y": [1.0, 2.0], "z": [3.0, 4.0], "d": [0, 1]})
        >>> p = Panel(df, outcome="y", treatment="d", covariates=["z"])
        >>> p.replace(outcome="z", covariates=()).outcome
        'z'
        """
        args = self._roles()
        unknown = set(roles) - set(args)
        if unknown:
            raise PanelError(f"unknown Panel role(s) {sorted(unknown)}; roles are {sorted(args)}.")
        held = list(self._df.columns)
        for role, value in roles.items():
            names = column_names(value, role) if role in ("covariates", "levels") else (
                () if value is None or role in ("never_treated", "treatment_kind") else (value,))
            missing = [c for c in names if c not in held]
            if missing:
                raise PanelError(
                    f"replace({role}={value!r}): {missing[0]!r} is not one of the panel's "
                    f"columns ({', '.join(map(str, held))}); build a new Panel from the data "
                    f"to use other columns."
                )
        args.update(roles)
        if "treatment" in roles and roles["treatment"] is not None and "cohort" not in roles:
            args["cohort"] = None
        if "cohort" in roles and roles["cohort"] is not None and "treatment" not in roles:
            args["treatment"] = None
        frame = self._df if len(self._dropped) == 0 else pd.concat([self._df, self._dropped])
        return Panel._from_frame(frame, quiet=False, **args)

    # --------------------------------------------------------------- accessors
    @property
    def kind(self) -> PanelKind:
        """``"panel"``, ``"repeated_cross_section"``, ``"series"`` or ``"cross_section"``."""
        return self._kind

    @property
    def frame(self) -> pd.DataFrame:
        """A copy of the validated rows (sorted by unit, then period) of the role
        columns; the index holds each row's position (0-based) in the data as given."""
        return self._df.copy()

    @property
    def notes(self) -> tuple[str, ...]:
        """What was set aside while building the panel (never silent)."""
        return tuple(self._notes)

    @property
    def n_obs(self) -> int:
        """Number of rows."""
        return len(self._df)

    @property
    def n_units(self) -> int:
        """Number of units (rows, for cross-sections)."""
        return len(self._units)

    @property
    def n_periods(self) -> int:
        """Number of distinct periods."""
        return len(self._periods)

    @property
    def periods(self) -> pd.Index:
        """The ordered period labels."""
        return self._periods

    @property
    def units(self) -> pd.Index:
        """The unit labels, sorted."""
        return self._units

    @property
    def unit_codes(self) -> np.ndarray:
        """Integer unit code of each row (read-only)."""
        return self._ucode

    @property
    def time_codes(self) -> np.ndarray:
        """Integer period code (0 = first period) of each row (read-only)."""
        return self._tcode

    @property
    def y(self) -> np.ndarray:
        """Outcome of each row (read-only float array)."""
        return self._y

    @property
    def w(self) -> np.ndarray:
        """Weight of each row (ones when no weights were given)."""
        return self._w

    @property
    def exposure_values(self) -> np.ndarray | None:
        """Exposure of each row, or ``None``."""
        return self._exp

    @property
    def dose_values(self) -> np.ndarray | None:
        """Dose (treatment intensity) of each row, or ``None``."""
        return self._dose

    @property
    def unit_doses(self) -> np.ndarray | None:
        """Dose of each unit (in :attr:`units` order), or ``None``."""
        return None if self._dose is None else self.unit_values(self._dose)

    @property
    def cluster_codes(self) -> np.ndarray | None:
        """Integer cluster code of each row, or ``None``."""
        return self._cl

    @property
    def n_clusters(self) -> int | None:
        """Number of clusters, or ``None`` without a cluster column."""
        return None if self._clusters is None else len(self._clusters)

    @property
    def cohort_codes(self) -> np.ndarray:
        """Cohort of each row as a period position: ``inf`` never treated,
        ``-1`` treated before the first period, ``n_periods`` after the last."""
        pos = self._cohort_pos
        if pos is None:  # gathered from the units once, on first use
            assert self._unit_cohort_pos is not None
            pos = readonly(self._unit_cohort_pos[self._ucode])
            object.__setattr__(self, "_cohort_pos", pos)
        return pos

    @property
    def has_cohorts(self) -> bool:
        """Whether the panel has cohorts: a cohort column, or a 0/1 absorbing
        treatment (a ``treatment_kind="general"`` treatment has none)."""
        return ((self.cohort is not None or self.treatment is not None)
                and self.treatment_kind != "general")

    @property
    def treatment_values(self) -> np.ndarray | None:
        """The ``treatment_kind="general"`` treatment of each row (read-only), or ``None``."""
        return self._treat

    def treatment_grid(self) -> TreatmentGrid:
        """Outcome, treatment and weights of a ``treatment_kind="general"`` panel on
        a dense units-by-periods grid (see :class:`spimpact._treatment.TreatmentGrid`).

        Rows set aside for a missing outcome keep their treatment (and may add
        periods to the grid), so a treatment change in such a row still dates
        the unit's switch.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"u": [1, 1, 2, 2], "t": [1, 2, 1, 2], "d": [0.0, 2.5, 0.0, 0.0],
        ...                    "y": [1.0, 2.0, 1.5, 1.0]})
        >>> p = Panel(df, outcome="y", unit="u", time="t", treatment="d", treatment_kind="general")
        >>> p.treatment_grid().d.tolist()
        [[0.0, 2.5], [0.0, 0.0]]
        """
        return treatment_grid(self)

    @property
    def treated(self) -> np.ndarray:
        """0/1 treatment status of each row (period on or after its cohort)."""
        return (self._tcode >= self.cohort_codes).astype(np.int8)

    @property
    def event_time(self) -> pd.Series:
        """Periods since the cohort's first treated period (NaN when never treated
        or treated outside the observed window), aligned with :attr:`frame`."""
        pos = self.cohort_codes
        inside = np.isfinite(pos) & (pos >= 0) & (pos < self.n_periods)
        et = np.where(inside, self._tcode - np.where(inside, pos, 0), np.nan)
        return pd.Series(et, index=self._df.index, name="event_time")

    def unit_values(self, values: np.ndarray) -> np.ndarray:
        """The first value of a per-row array in each unit (for unit-constant columns)."""
        first = np.r_[True, self._ucode[1:] != self._ucode[:-1]]
        return np.asarray(values)[first]

    @property
    def unit_cohort_codes(self) -> np.ndarray:
        """Cohort position of each unit (see :attr:`cohort_codes`)."""
        if self._unit_cohort_pos is not None:
            return self._unit_cohort_pos.copy()
        return self.unit_values(self.cohort_codes)

    def cohort_label(self, pos: float) -> Any:
        """The user's label for a cohort position (``None`` when never treated;
        ``"treated"`` in a cross-section)."""
        if not np.isfinite(pos):
            return None
        if self._kind == "cross_section":
            return "treated"
        if 0 <= pos < self.n_periods:
            return self._periods[int(pos)]
        return "before first period" if pos < 0 else "after last period"

    @property
    def cohorts(self) -> pd.DataFrame:
        """Cohorts (first treated period) with their numbers of units and rows.

        The never-treated units form the row with a missing cohort.
        """
        from ._panel_views import cohort_table

        return cohort_table(self)

    @property
    def never_treated_units(self) -> pd.Index:
        """Labels of the units never treated in the data."""
        return self._units[~np.isfinite(self.unit_cohort_codes)]

    @property
    def is_balanced(self) -> bool:
        """Whether every unit is observed in every period."""
        if self._kind != "panel":
            return self._kind == "series"
        return self.n_obs == self.n_units * self.n_periods

    def covariate_frame(self) -> pd.DataFrame:
        """The covariate columns of :attr:`frame` (a copy)."""
        return self._df.loc[:, list(self.covariates)].copy()

    # ------------------------------------------------------------------- views
    def describe(self) -> pd.Series:
        """A one-column summary: kind, sizes, periods, cohorts, balance.

        Examples
        --------
        >>> import pandas as pd
        >>> p = Panel(pd.DataFrame({"y": [1.0, 2.0, 3.0]}), outcome="y")
        >>> int(p.describe()["rows"])
        3
        """
        from ._panel_views import describe_panel

        return describe_panel(self)

    def __repr__(self) -> str:
        bits = [f"{self._kind}", f"outcome={self.outcome!r}", f"{self.n_obs} rows"]
        if self._kind == "panel":
            bits.append(f"{self.n_units} units x {self.n_periods} periods")
        if self.has_cohorts and self._kind != "cross_section":
            bits.append(f"{int(np.isfinite(np.unique(self.unit_cohort_codes)).sum())} cohorts")
        return f"Panel({', '.join(bits)})"

    def plot_rollout(self, ax: Axes | None = None, *, max_units: int = 2000) -> Axes:
        """Units by period, coloured by treatment status (a rollout heatmap).

        Units are sorted by cohort; never-treated units sit at the bottom and
        unobserved unit-periods are blank. With more than ``max_units`` units an
        evenly spaced subset is drawn.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"u": [1, 1, 2, 2], "t": [1, 2, 1, 2], "g": [2, 2, None, None],
        ...                    "y": [1.0, 2.0, 3.0, 4.0]})
        >>> ax = Panel(df, outcome="y", unit="u", time="t", cohort="g").plot_rollout()
        >>> ax.get_title()
        'Rollout'
        """
        from .plotting import rollout_heatmap

        if not self.has_cohorts or self.time is None:
            raise PanelError(
                "plot_rollout() draws who is treated when, so it needs time= and cohort= "
                "(or treatment=)."
            )
        return rollout_heatmap(self, ax=ax, max_units=max_units)

    def balanced(self) -> Panel:
        """The sub-panel of units observed in every period.

        What was dropped is reported in the new panel's :attr:`notes` and in a
        :class:`~spimpact.errors.DataWarning`; a balanced panel is returned as is.

        Examples
        --------
        >>> import warnings
        >>> import pandas as pd
        >>> df = pd.DataFrame({"u": [1, 1, 2], "t": [1, 2, 1], "y": [1.0, 2.0, 3.0]})
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     b = Panel(df, outcome="y", unit="u", time="t").balanced()
        >>> b.n_units, b.notes
        (1, ('balanced(): dropped 1 of 2 units (1 rows) not observed in all 2 periods.',))
        """
        from ._panel_views import balanced_panel

        return balanced_panel(self)

    def unit_sample(self, *, anticipation: int = 0, drop_always_treated: bool = True) -> UnitSample:
        """The estimation sample of a staggered design, the same for every family.

        Cohorts after the last period count as not treated in the window; units
        first treated by the first period (plus ``anticipation``) have no
        untreated period and are set aside with a note, unless
        ``drop_always_treated=False``. See :class:`spimpact._sample.UnitSample`.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"u": [1, 1, 2, 2, 3, 3], "t": [1, 2] * 3,
        ...                    "g": [1, 1, 2, 2, None, None], "y": [1.0] * 6})
        >>> s = Panel(df, outcome="y", unit="u", time="t", cohort="g").unit_sample()
        >>> s.n_units, s.unit_cohort.tolist(), s.notes[0][:29]
        (2, [1.0, inf], '1 units treated by the first ')
        """
        from ._sample import unit_sample

        return unit_sample(self, anticipation=anticipation,
                           drop_always_treated=drop_always_treated)

    def _derive(self, df: pd.DataFrame, *, add_notes: Sequence[str] = (),
                **roles: Any) -> Panel:
        """A Panel on some rows of :attr:`frame` (same roles unless given), with
        this panel's notes and then ``add_notes``. The rows set aside for a missing outcome go with their
        units, so a cohort derived from ``treatment`` stays the same."""
        args = self._roles()
        args.update(roles)
        extra = self._dropped
        if len(extra) and self.unit is not None:
            extra = extra.loc[extra[self.unit].isin(df[self.unit])]
        elif self._kind != "series":
            extra = extra.iloc[:0]
        frame = df if len(extra) == 0 else pd.concat([df, extra])
        return Panel._from_frame(frame, quiet=True, notes=[*self._notes, *add_notes], **args)

    def aggregate(self, to: str) -> Panel:
        """Aggregate to a higher level (e.g. practices to PCNs).

        Counts (the outcome when ``exposure`` is given) and exposure are summed;
        the outcome otherwise, and numeric covariates, become weighted means
        (weights: exposure, else the panel's weights). Cohort, cluster and higher
        levels must be constant within the new units.

        Parameters
        ----------
        to : str
            One of :attr:`levels` above the unit.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"practice": ["a", "b", "c"] * 2, "pcn": ["x", "x", "y"] * 2,
        ...                    "q": [1, 1, 1, 2, 2, 2], "visits": [10, 20, 5, 12, 22, 6],
        ...                    "pop": [100, 200, 50] * 2})
        >>> p = Panel(df, outcome="visits", unit="practice", time="q", exposure="pop",
        ...           levels=["practice", "pcn"])
        >>> p.aggregate(to="pcn").frame["visits"].tolist()
        [30.0, 34.0, 5.0, 6.0]
        """
        from ._panel_views import aggregate_panel

        return aggregate_panel(self, to)
