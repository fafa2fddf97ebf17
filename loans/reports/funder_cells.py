"""The funder report as cells and relations (the model statistical secrecy works on), and its
rows and note once the masking is decided."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from loans.reports import suppression
from loans.reports.suppression import Cell, Masking, Ratio, Relation, Role

# Who the threshold protects, as the note says it.
PROTECTED = (
    "les effectifs de personnes, de prêts et d'appareils prêtés, de séances, de thématiques, "
    "d'adhésions, de cautions et de cessions"
)


@dataclass
class Row:
    key: str
    label: str
    value: int | Decimal | None  # None when masked or undefined
    display: str
    unit: str = ""
    masked: str = ""  # "", "primary" (under the threshold) or "complementary"


@dataclass
class Section:
    key: str
    title: str
    rows: list[Row] = field(default_factory=list)


@dataclass
class _Spec:
    key: str
    label: str
    kind: str  # count | ratio | figure | amount
    value: int | Decimal
    unit: str = ""
    follows: str = ""
    defined: bool = True


class Builder:
    """Collects a report's rows with their cells and relations, in printing order."""

    def __init__(self) -> None:
        self._titles: dict[str, str] = {}
        self._specs: dict[str, list[_Spec]] = {}
        self.cells: dict[str, Cell] = {}
        self.relations: list[Relation | Ratio] = []

    def section(self, key: str, title: str) -> None:
        self._titles[key] = title
        self._specs[key] = []

    def _add(self, section: str, spec: _Spec, first: bool = False) -> str:
        self._specs[section].insert(0 if first else len(self._specs[section]), spec)
        return spec.key

    def count(
        self,
        section: str,
        key: str,
        label: str,
        n: int,
        *,
        sensitive: bool = True,
        role: Role = Role.part,
        first: bool = False,
    ) -> str:
        """A count; `sensitive` when it is about people (masked under the threshold)."""
        self.cells[key] = Cell(key, Fraction(n), sensitive=sensitive, role=role)
        return self._add(section, _Spec(key, label, "count", n), first)

    def hidden(self, key: str, n: int, *, sensitive: bool) -> None:
        """A figure the report does not print but a relation holds (an unknown to the reader)."""
        self.cells[key] = Cell(key, Fraction(n), sensitive=sensitive, printed=False)

    def relation(self, relation: Relation) -> None:
        self.relations.append(relation)

    def ratio(
        self, section: str, key: str, label: str, numerator: list[str], denominator: str, name: str
    ) -> None:
        """A percentage Σ numerator / denominator ("—" when the denominator is zero)."""
        part = sum(self.cells[k].value for k in numerator)
        whole = self.cells[denominator].value
        exact = Fraction(100) * part / whole if whole else Fraction(0)
        self.cells[key] = Cell(key, exact, role=Role.rate, integer=False)
        self.relations.append(Ratio(name, key, tuple(numerator), denominator))
        value = Decimal(exact.numerator) / Decimal(exact.denominator)
        self._add(section, _Spec(key, label, "ratio", value, "%", defined=bool(whole)))

    def figure(
        self, section: str, key: str, label: str, value: Decimal, unit: str, *, follows: str
    ) -> None:
        """A figure in no printed relation, masked with the count it describes."""
        self._add(section, _Spec(key, label, "figure", value, unit, follows=follows))

    def amount(
        self,
        section: str,
        key: str,
        label: str,
        value: Decimal,
        unit: str,
        *,
        per: str,
        relation: str,
        factor: Fraction | None = None,
    ) -> None:
        """An amount = a unit value × a count; the unit value (a fee, a price, an ADEME factor)
        is taken as known to the reader."""
        count = self.cells[per].value
        self.cells[key] = Cell(key, Fraction(value), role=Role.amount, integer=False)
        if factor is None and count:
            factor = Fraction(value) / count
        if factor is not None:
            self.relations.append(suppression.scaled(relation, key, factor, per))
        self._add(section, _Spec(key, label, "amount", value, unit))

    def model(self) -> suppression.Model:
        return self.cells, tuple(self.relations)

    def sections(
        self, masking: Masking, threshold: int, fmt: Callable[[int | Decimal], str], masked: str
    ) -> list[Section]:
        """The rows as printed: "< N" under the threshold, `masked` for complementary cells."""
        out = []
        for key, title in self._titles.items():
            section = Section(key, title)
            for spec in self._specs[key]:
                if spec.key in masking.primary:
                    row = Row(spec.key, spec.label, None, f"< {threshold}", spec.unit, "primary")
                elif spec.key in masking.complementary or spec.follows in masking.masked:
                    row = Row(spec.key, spec.label, None, masked, spec.unit, "complementary")
                elif not spec.defined:
                    row = Row(spec.key, spec.label, None, "—", spec.unit)
                else:
                    row = Row(spec.key, spec.label, spec.value, fmt(spec.value), spec.unit)
                section.rows.append(row)
            out.append(section)
        return out

    def note(self, masking: Masking, sections: list[Section]) -> str:
        """What is masked, by section, and why; or that nothing is."""
        threshold = masking.threshold
        by_reason: dict[str, list[str]] = {"primary": [], "complementary": []}
        for section in sections:
            for reason, labels in by_reason.items():
                names = [r.label for r in section.rows if r.masked == reason]
                if names:
                    labels.append(f"{section.title} : {', '.join(names)}")
        if not by_reason["primary"] and not by_reason["complementary"]:
            return (
                f"Aucun chiffre n'est masqué dans ce rapport (seuil de secret statistique : "
                f"{threshold})."
            )
        small = "égaux à 1" if threshold == 2 else f"compris entre 1 et {threshold - 1}"
        text = (
            f"Secret statistique (seuil {threshold}) : {PROTECTED} {small} sont affichés "
            f"« < {threshold} »"
        )
        text += " ; ici : " + " ; ".join(by_reason["primary"]) + "."
        if by_reason["complementary"]:
            text += (
                " Pour qu'aucun de ces chiffres ne puisse être recalculé à partir des totaux, "
                "des taux et des montants imprimés, sont aussi masqués (« masqué ») : "
                + " ; ".join(by_reason["complementary"])
                + "."
            )
        return text
