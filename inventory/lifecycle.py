"""The device lifecycle as pure rules: states, named transitions, and guards over facts.

No I/O here. Services gather the facts, call `decide`, and persist the outcome with its event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from inventory.states import N_, STATE_LABELS_FR, RetirementReason
from inventory.states import DeviceState as S


@dataclass(frozen=True)
class Facts:
    """What the guards need to know about a device at the moment of a transition."""

    has_storage: bool = True
    # Invariant 1: every disk has a passed sanitization newer than the last custody change...
    disks_sanitized: bool = False
    # ...and a verified imaging record newer than that wipe.
    image_verified: bool = False
    # The loan the device's history says it is on (invariant 8), whoever asks.
    open_loan: int | None = None
    # The loan whose own operation this is; None on the generic path (scan page, card, API).
    acting_loan: int | None = None
    charter_signed: bool = False
    reason: str | None = None


Guard = Callable[[Facts], str | None]


class LoanEffect(StrEnum):
    opens = "opens"  # the device joins a loan
    keeps = "keeps"  # the device stays on its loan
    closes = "closes"  # the device leaves its loan


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[S]
    target: S
    guards: tuple[Guard, ...] = ()
    # A custody change (intake, return) voids earlier wipes: the device may hold new data.
    custody_change: bool = False
    label_fr: str = ""
    # What the transition does to the device's loan; a transition that has one belongs to the
    # loans domain and is refused to the generic path.
    loan_effect: LoanEffect | None = None


class TransitionRefused(Exception):
    """A transition that the rules do not allow now; the message is a sentence for a person."""


def _needs_storage(facts: Facts) -> str | None:
    if not facts.has_storage:
        return "Cet appareil n'a pas de stockage : il n'a rien à effacer."
    return None


def _without_storage(facts: Facts) -> str | None:
    if facts.has_storage:
        return "Un appareil avec stockage doit être effacé puis installé avant d'être prêt."
    return None


def _disks_sanitized(facts: Facts) -> str | None:
    if facts.has_storage and not facts.disks_sanitized:
        return (
            "Chaque disque doit avoir un effacement réussi postérieur à la dernière prise "
            "en charge de l'appareil."
        )
    return None


def _image_verified(facts: Facts) -> str | None:
    if facts.has_storage and not facts.image_verified:
        return "L'appareil doit avoir une installation vérifiée postérieure à son effacement."
    return None


def _ready_for_borrower(facts: Facts) -> str | None:
    return _disks_sanitized(facts) or _image_verified(facts)


def _charter_signed(facts: Facts) -> str | None:
    if not facts.charter_signed:
        return "Un prêt exige une charte signée : passez par l'écran de prêt."
    return None


def _on_this_loan(facts: Facts) -> str | None:
    if facts.open_loan is None:
        return "Aucun prêt en cours pour cet appareil."
    if facts.open_loan != facts.acting_loan:
        return f"Cet appareil est sur le prêt n° {facts.open_loan}, pas sur celui-ci."
    return None


def _no_open_loan(facts: Facts) -> str | None:
    if facts.open_loan is not None:
        return (
            f"L'appareil est encore sur le prêt n° {facts.open_loan} : enregistrez d'abord "
            "son retour (page Retours)."
        )
    return None


WORKSHOP_REASONS = frozenset(
    {
        RetirementReason.parts,
        RetirementReason.recycled_weee,
        RetirementReason.given,
        RetirementReason.sold,
    }
)
# A device that leaves with a person must leave without anyone's data.
LEAVES_WITH_A_PERSON = frozenset({RetirementReason.given, RetirementReason.sold})
LOSS_REASONS = frozenset({RetirementReason.lost, RetirementReason.stolen})


def _workshop_retirement(facts: Facts) -> str | None:
    if facts.reason not in WORKSHOP_REASONS:
        return "Motif de sortie attendu : pièces détachées, recyclage DEEE, don ou vente."
    if facts.reason in LEAVES_WITH_A_PERSON and facts.has_storage and not facts.disks_sanitized:
        return (
            "Un appareil donné ou vendu doit d'abord être effacé : aucune donnée ne part avec lui."
        )
    return None


def _loss_retirement(facts: Facts) -> str | None:
    if facts.reason not in LOSS_REASONS:
        return "Un appareil en prêt ne sort du parc que perdu ou volé."
    return None


_STORAGE_STATES = frozenset({S.received, S.to_wipe, S.wiped, S.imaged, S.ready, S.in_repair})

TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        Transition(
            "triage",
            frozenset({S.received}),
            S.to_wipe,
            (_needs_storage,),
            label_fr=N_("Trier : à effacer"),
        ),
        Transition(
            "wipe_passed",
            frozenset({S.to_wipe}),
            S.wiped,
            (_disks_sanitized,),
            label_fr=N_("Effacement réussi"),
        ),
        Transition(
            "image_verified",
            frozenset({S.wiped}),
            S.imaged,
            (_image_verified,),
            label_fr=N_("Installation vérifiée"),
        ),
        Transition(
            "qualify",
            frozenset({S.imaged}),
            S.ready,
            (_ready_for_borrower,),
            label_fr=N_("Étiqueté et contrôlé : prêt"),
        ),
        Transition(
            "qualify_without_storage",
            frozenset({S.received}),
            S.ready,
            (_without_storage,),
            label_fr=N_("Sans stockage : prêt"),
        ),
        Transition(
            "rewipe",
            frozenset({S.wiped, S.imaged, S.ready, S.in_repair}),
            S.to_wipe,
            (_needs_storage,),
            label_fr=N_("Renvoyer à l'effacement"),
        ),
        Transition(
            "checkout",
            frozenset({S.ready}),
            S.loaned,
            (_no_open_loan, _charter_signed),
            label_fr=N_("Prêter"),
            loan_effect=LoanEffect.opens,
        ),
        Transition(
            "return_end",
            frozenset({S.loaned}),
            S.to_wipe,
            (_on_this_loan, _needs_storage),
            custody_change=True,
            label_fr=N_("Retour de fin de prêt"),
            loan_effect=LoanEffect.closes,
        ),
        Transition(
            "return_without_storage",
            frozenset({S.loaned}),
            S.ready,
            (_on_this_loan, _without_storage),
            custody_change=True,
            label_fr=N_("Retour (sans stockage)"),
            loan_effect=LoanEffect.closes,
        ),
        Transition(
            "repair_during_loan",
            frozenset({S.loaned}),
            S.in_repair,
            (_on_this_loan,),
            label_fr=N_("Réparation pendant le prêt"),
            loan_effect=LoanEffect.keeps,
        ),
        Transition(
            "repair_in_workshop",
            frozenset({S.ready}),
            S.in_repair,
            (),
            label_fr=N_("Mettre en réparation"),
        ),
        Transition(
            "repaired_to_borrower",
            frozenset({S.in_repair}),
            S.loaned,
            (_on_this_loan,),
            label_fr=N_("Réparé : rendu à l'emprunteur"),
            loan_effect=LoanEffect.keeps,
        ),
        Transition(
            "repaired",
            frozenset({S.in_repair}),
            S.ready,
            (_ready_for_borrower,),
            label_fr=N_("Réparé : prêt"),
        ),
        Transition(
            "swap_out",
            frozenset({S.in_repair}),
            S.to_wipe,
            (_on_this_loan, _needs_storage),
            custody_change=True,
            label_fr=N_("Échangé : à effacer"),
            loan_effect=LoanEffect.closes,
        ),
        Transition(
            "retire",
            _STORAGE_STATES,
            S.retired,
            (_workshop_retirement,),
            label_fr=N_("Sortir du parc"),
        ),
        Transition(
            "declare_lost",
            frozenset({S.loaned, S.in_repair}),
            S.retired,
            (_on_this_loan, _loss_retirement),
            label_fr=N_("Déclarer perdu ou volé"),
            loan_effect=LoanEffect.closes,
        ),
    )
}

# Where a person does what the generic path refuses (invariant 8: the loan owns its device).
LOAN_PAGES_FR = {
    LoanEffect.opens: "l'écran de prêt (Prêter)",
    LoanEffect.keeps: "la page Retours, ou la clôture du ticket de réparation",
    LoanEffect.closes: "la page Retours",
}


def decide(state: S, transition_name: str, facts: Facts) -> S:
    """Return the target state of `transition_name` from `state`, or raise TransitionRefused."""
    transition = TRANSITIONS.get(transition_name)
    if transition is None:
        raise TransitionRefused(f"Transition inconnue : « {transition_name} ».")
    if state not in transition.sources:
        raise TransitionRefused(
            f"« {transition.label_fr} » est impossible depuis l'état « {STATE_LABELS_FR[state]} »."
        )
    effect = transition.loan_effect
    if effect is not None and facts.acting_loan is None:
        raise TransitionRefused(
            f"« {transition.label_fr} » appartient au prêt : passez par {LOAN_PAGES_FR[effect]}."
        )
    if facts.open_loan is not None and effect is None:
        raise TransitionRefused(
            f"L'appareil est sur le prêt n° {facts.open_loan} : seules les opérations du prêt le "
            "déplacent (retour, réparation, échange, perte ou vol) ; passez par la page Retours."
        )
    for guard in transition.guards:
        refusal = guard(facts)
        if refusal:
            raise TransitionRefused(refusal)
    return transition.target


def allowed(state: S, facts: Facts) -> list[str]:
    """Names of the transitions that `decide` would accept now, for menus and scan rows."""
    names = []
    for name, transition in TRANSITIONS.items():
        if state not in transition.sources:
            continue  # `decide`'s first refusal, without building its sentence and exception
        try:
            decide(state, name, facts)
        except TransitionRefused:
            continue
        names.append(name)
    return names


def replay(to_states: Iterable[str | None]) -> S | None:
    """The state that a device's events give, in order; None before its intake event."""
    state: S | None = None
    for to_state in to_states:
        if to_state is not None:
            state = S(to_state)
    return state


def open_loan(events: Iterable[tuple[str, int | None]]) -> int | None:
    """The loan a device's events (kind, loan id), in order, leave it on; None when on none."""
    loan: int | None = None
    for kind, loan_id in events:
        transition = TRANSITIONS.get(kind)
        if transition is None or transition.loan_effect in (None, LoanEffect.keeps):
            continue
        loan = loan_id if transition.loan_effect == LoanEffect.opens else None
    return loan
