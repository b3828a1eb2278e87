"""A small parser for lme4-style group terms in model formulas.

``"y ~ x + (1 + x | pcn) + (1 | icb/pcn)"`` splits into a fixed-effect
right-hand side for formulaic (``"x"``) and group terms: what varies (a
formulaic right-hand side, ``"1 + x"``) and by which grouping factor(s).
``a/b`` nests (``a`` and ``a:b``), ``a:b`` crosses two columns into one
factor, and a double bar ``(1 + x || g)`` makes the varying effects
uncorrelated.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import OptionError

__all__ = ["GroupTerm", "ParsedFormula", "parse_formula"]


@dataclass(frozen=True)
class GroupTerm:
    """One ``(expr | factor)`` term after expanding nesting.

    Attributes
    ----------
    expr : str
        Formulaic right-hand side of what varies (``"1"``, ``"1 + x"``).
    factors : tuple of str
        Columns whose combinations define the groups (``("pcn", "practice")``
        for ``pcn:practice``).
    correlated : bool
        ``False`` for a double bar ``||``.
    """

    expr: str
    factors: tuple[str, ...]
    correlated: bool = True

    @property
    def name(self) -> str:
        """The grouping factor as written in formulas (``"pcn:practice"``)."""
        return ":".join(self.factors)


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into its outcome, fixed part and group terms."""

    lhs: str | None
    fixed: str
    groups: tuple[GroupTerm, ...]


def _matching(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise OptionError(f"unbalanced parentheses in formula term {text[start:]!r}.")


def _top_level_bar(inner: str) -> int:
    """Position of the first ``|`` outside nested parentheses (-1 if none)."""
    depth = 0
    for i, ch in enumerate(inner):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "|" and depth == 0:
            return i
    return -1


def _expand_factors(spec: str, formula: str) -> list[tuple[str, ...]]:
    spec = spec.strip()
    if not spec:
        raise OptionError(f"a group term in {formula!r} has no grouping column after '|'.")
    nested = [part.strip() for part in spec.split("/")]
    out: list[tuple[str, ...]] = []
    prefix: tuple[str, ...] = ()
    for part in nested:
        cols = tuple(c.strip().strip("`") for c in part.split(":"))
        if any(not c for c in cols):
            raise OptionError(f"cannot read the grouping factor {spec!r} in {formula!r}.")
        prefix = prefix + cols
        out.append(prefix)
    return out


def _group_term(inner: str, formula: str) -> list[GroupTerm]:
    bar = _top_level_bar(inner)
    correlated = True
    expr, factors = inner[:bar], inner[bar + 1:]
    if factors.startswith("|"):
        correlated, factors = False, factors[1:]
    expr = expr.strip()
    if not expr:
        raise OptionError(f"a group term in {formula!r} has nothing before '|'; write (1 | group).")
    return [GroupTerm(expr, f, correlated) for f in _expand_factors(factors, formula)]


def parse_formula(formula: str) -> ParsedFormula:
    """Split an lme4-style formula into fixed and group parts.

    Examples
    --------
    >>> p = parse_formula("y ~ x + (1 + x | pcn) + (1 | icb/pcn)")
    >>> p.lhs, p.fixed, [(g.expr, g.name) for g in p.groups]
    ('y', 'x', [('1 + x', 'pcn'), ('1', 'icb'), ('1', 'icb:pcn')])
    """
    if not isinstance(formula, str) or not formula.strip():
        raise OptionError(f"formula must be a string such as 'y ~ x + (1 | county)', not {formula!r}.")
    if formula.count("~") > 1:
        raise OptionError(f"formula {formula!r} has more than one '~'.")
    lhs, rhs = formula.split("~", 1) if "~" in formula else (None, formula)
    lhs = lhs.strip() if lhs is not None and lhs.strip() else None
    fixed_parts: list[str] = []
    groups: list[GroupTerm] = []
    i, start = 0, 0
    while i < len(rhs):
        if rhs[i] == "(":
            end = _matching(rhs, i)
            inner = rhs[i + 1:end]
            if _top_level_bar(inner) >= 0:
                fixed_parts.append(rhs[start:i])
                groups.extend(_group_term(inner, formula))
                start = end + 1
            i = end + 1
            continue
        if rhs[i] == ")":
            raise OptionError(f"unbalanced parentheses in formula {formula!r}.")
        i += 1
    fixed_parts.append(rhs[start:])
    fixed = _join_terms(fixed_parts)
    return ParsedFormula(lhs, fixed, tuple(groups))


def _join_terms(parts: list[str]) -> str:
    """Glue the fixed-effect pieces left after cutting out group terms."""
    tokens = []
    for piece in parts:
        piece = piece.strip()
        while piece.startswith("+"):
            piece = piece[1:].strip()
        while piece.endswith("+"):
            piece = piece[:-1].strip()
        if piece:
            tokens.append(piece)
    text = " + ".join(tokens).replace("+ -", "-")
    return text if text else "1"
