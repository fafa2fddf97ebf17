"""Statistical secrecy of a report: primary and complementary suppression, as pure functions.

A report is a set of cells (its figures) and the linear relations it prints between them
(a total is the sum of its parts, a rate is its numerator over its denominator, an amount is a
count times a known price). Primary suppression masks the counts about people from 1 to N-1;
complementary suppression then masks further cells until no masked cell can be recomputed from
the printed ones: neither by solving the linear system of every relation (exactly, in fractions)
nor by the bounds a single relation gives ("< N" is 1 to N-1, every figure is 0 or more).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction


class Role(StrEnum):
    """What a cell is, which decides the order complementary suppression picks cells in."""

    rate = "rate"  # derived: masked first
    amount = "amount"  # euros, kilograms: derived from a count
    part = "part"
    total = "total"  # kept as long as possible


COST = {Role.rate: 0, Role.amount: 1, Role.part: 2, Role.total: 3}


@dataclass(frozen=True)
class Cell:
    """One figure: its exact value, whether it counts people (primary suppression), whether the
    report prints it (an unprinted cell is an unknown to the reader, e.g. the QPV households)."""

    key: str
    value: Fraction
    sensitive: bool = False
    printed: bool = True
    role: Role = Role.part
    integer: bool = True


@dataclass(frozen=True)
class Relation:
    """Σ coefficient × cell = 0, as the report prints it (its name says where)."""

    name: str
    terms: tuple[tuple[str, Fraction], ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.terms)


@dataclass(frozen=True)
class Ratio:
    """rate × denominator = scale × Σ numerator: linear once the rate or the denominator is
    known (a rate of an empty denominator is not printed and gives nothing)."""

    name: str
    rate: str
    numerator: tuple[str, ...]
    denominator: str
    scale: Fraction = Fraction(100)

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.rate, self.denominator, *self.numerator)


def total(name: str, whole: str, parts: Iterable[str]) -> Relation:
    """whole = Σ parts."""
    return Relation(name, ((whole, Fraction(1)), *((p, Fraction(-1)) for p in parts)))


def scaled(name: str, result: str, factor: Fraction, base: str) -> Relation:
    """result = factor × base (an amount from a count and a known unit value)."""
    return Relation(name, ((result, Fraction(1)), (base, -factor)))


@dataclass
class Masking:
    """What is masked and why: primary (under the threshold), complementary (to protect them)."""

    threshold: int
    primary: set[str] = field(default_factory=set)
    complementary: set[str] = field(default_factory=set)

    @property
    def masked(self) -> set[str]:
        return self.primary | self.complementary


Model = tuple[Mapping[str, Cell], tuple[Relation | Ratio, ...]]


def _linear(
    relations: Iterable[Relation | Ratio], cells: Mapping[str, Cell], known: set[str]
) -> list[Relation]:
    """The relations as linear equations given what is known (a ratio of two unknowns is left)."""
    out: list[Relation] = []
    for r in relations:
        if isinstance(r, Relation):
            out.append(r)
            continue
        den, rate = cells[r.denominator].value, cells[r.rate].value
        if den == 0:
            continue
        nums = tuple((k, -r.scale) for k in r.numerator)
        if r.denominator in known:
            out.append(Relation(r.name, ((r.rate, den), *nums)))
        elif r.rate in known:
            out.append(Relation(r.name, ((r.denominator, rate), *nums)))
    return out


def _determined(equations: list[Relation], unknown: list[str]) -> set[str]:
    """The unknowns the equations fix alone: e_i in the row space (reduced row echelon form)."""
    index = {k: i for i, k in enumerate(unknown)}
    rows = []
    for eq in equations:
        row = [Fraction(0)] * len(unknown)
        for key, coef in eq.terms:
            if key in index:
                row[index[key]] += coef
        if any(row):
            rows.append(row)
    pivots: list[int] = []
    r = 0
    for col in range(len(unknown)):
        pivot = next((i for i in range(r, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        lead = rows[r][col]
        rows[r] = [v / lead for v in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][col] != 0:
                factor = rows[i][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[r], strict=True)]
        pivots.append(col)
        r += 1
    return {
        unknown[col]
        for i, col in enumerate(pivots)
        if all(v == 0 for j, v in enumerate(rows[i]) if j != col)
    }


def _bounds(cell: Cell, masking: Masking) -> tuple[float, float]:
    """What a reader knows of a masked cell: "< N" is 1 to N-1; any other figure is ≥ 0."""
    if cell.printed and cell.key in masking.primary:
        return 1.0, float(masking.threshold - 1)
    return 0.0, math.inf


def _pinned(
    eq: Relation, cells: Mapping[str, Cell], unknown: set[str], masking: Masking
) -> set[str]:
    """The unknowns of one equation its other cells' bounds leave a single value to."""
    rest = float(-sum(coef * cells[k].value for k, coef in eq.terms if k not in unknown))
    terms = [(k, float(c)) for k, c in eq.terms if k in unknown and c != 0]
    found = set()
    for key, coef in terms:
        low = high = rest
        for other, c in terms:
            if other == key:
                continue
            lo, hi = _bounds(cells[other], masking)
            a, b = c * lo, c * hi if hi != math.inf else (math.inf if c > 0 else -math.inf)
            low, high = low - max(a, b), high - min(a, b)
        lo_k, hi_k = sorted((low / coef, high / coef))
        own_lo, own_hi = _bounds(cells[key], masking)
        if own_hi - own_lo < 1:  # "< 2" already says 1: the relation tells nothing more
            continue
        lo_k, hi_k = max(lo_k, own_lo), min(hi_k, own_hi)
        if cells[key].integer and math.isfinite(lo_k) and math.isfinite(hi_k):
            lo_k, hi_k = math.ceil(lo_k - 1e-9), math.floor(hi_k + 1e-9)
        if hi_k - lo_k < 1e-9:
            found.add(key)
    return found


def _ratio_pinned(
    r: Ratio, cells: Mapping[str, Cell], unknown: set[str], masking: Masking
) -> set[str]:
    """A printed rate over a bounded unknown denominator: the integer pairs (denominator,
    numerator) the rounded rate allows; one denominator (or one numerator) left pins it."""
    if r.rate in unknown or r.denominator not in unknown:
        return set()
    low, high = _bounds(cells[r.denominator], masking)
    if not math.isfinite(high):
        return set()
    shown = round(float(cells[r.rate].value), 1)
    known = sum(cells[k].value for k in r.numerator if k not in unknown)
    parts = [_bounds(cells[k], masking) for k in r.numerator if k in unknown]
    n_low, n_high = float(known) + sum(b[0] for b in parts), float(known) + sum(b[1] for b in parts)
    pairs = set()
    for den in range(max(int(low), 1), int(high) + 1):
        first = math.ceil(den * (shown - 0.05) / float(r.scale) - 1e-9)
        last = math.floor(den * (shown + 0.05) / float(r.scale) + 1e-9)
        pairs |= {(den, k) for k in range(max(first, 0), last + 1) if n_low <= k <= n_high}
    found = set()
    if len({d for d, _ in pairs}) == 1:
        found.add(r.denominator)
    missing = [k for k in r.numerator if k in unknown]
    if len({k for _, k in pairs}) == 1 and len(missing) == 1:
        found.add(missing[0])
    return found


def leaks(model: Model, masking: Masking) -> set[str]:
    """The protected cells a reader can recompute: the masked ones, and the unprinted ones that
    count people under the threshold."""
    cells, relations = model
    # Unprinted counts under the threshold are in `primary` too; a "< 2" already says 1.
    protected = {k for k in masking.masked if _bounds(cells[k], masking) != (1.0, 1.0)}
    unknown = masking.masked | {k for k, c in cells.items() if not c.printed}
    found: set[str] = set()
    while True:
        known = set(cells) - unknown
        equations = _linear(relations, cells, known)
        solved = _determined(equations, sorted(unknown))
        for eq in equations:
            solved |= _pinned(eq, cells, unknown, masking)
        for r in relations:
            if isinstance(r, Ratio) and cells[r.denominator].value:
                solved |= _ratio_pinned(r, cells, unknown, masking)
        new = solved & unknown
        if not new:
            return found
        found |= new & protected
        unknown -= new


def primary(cells: Mapping[str, Cell], threshold: int) -> set[str]:
    """The counts about people from 1 to threshold-1 (zero stays zero)."""
    return {k for k, c in cells.items() if c.sensitive and 0 < c.value < threshold}


def _candidates(model: Model, masking: Masking, around: set[str]) -> set[str]:
    """The printed, unmasked cells of the relations that hold one of `around`."""
    cells, relations = model
    return {
        k
        for r in relations
        if set(r.keys) & around
        for k in r.keys
        if cells[k].printed and k not in masking.masked
    }


def suppress(model: Model, threshold: int, *, complementary: bool = True) -> Masking:
    """Primary suppression, then (unless switched off, for the tests) complementary suppression:
    while a masked cell can be recomputed, mask the cheapest printed cell of a relation it is
    in (a rate before an amount before a part before a total; small values first; zeros last)."""
    cells, relations = model
    masking = Masking(threshold, primary=primary(cells, threshold))
    while complementary:
        leaked = leaks(model, masking)
        if not leaked:
            break
        candidates = _candidates(model, masking, leaked) or _candidates(
            model, masking, masking.masked | {k for k, c in cells.items() if not c.printed}
        )
        if not candidates:  # cannot happen with a printed relation; said rather than looping
            raise ValueError(f"Secret statistique : rien ne protège {sorted(leaked)}.")
        pick = min(
            candidates,
            key=lambda k: (cells[k].value == 0, COST[cells[k].role], cells[k].value, k),
        )
        masking.complementary.add(pick)
    return masking
