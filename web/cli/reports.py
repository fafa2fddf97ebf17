"""Reminders and reports: funders, donors, open data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from inventory.config import settings
from inventory.errors import DomainError, Invalid
from loans import activities_export
from loans import reminders as daily
from loans.reports import donor, funder, lieux, opendata, render
from loans.tables import Programme
from web.cli.base import fail, main, run_async


@main.command(
    help="Tâche quotidienne : prêts en retard et séances à planifier, envoyés par courriel si "
    "REEMPLOI_SMTP_HOST et REEMPLOI_REMINDER_TO sont définis."
)
@click.option("--dry-run", is_flag=True, help="Afficher les rappels sans envoyer de courriel.")
def reminders(dry_run: bool) -> None:
    digest = run_async(daily.digest(date.today()))
    click.echo(daily.message_text(digest), nl=False)
    try:
        sent = not dry_run and daily.send(digest)
    except Invalid as error:  # SMTP settings or server: a sentence, not a traceback
        fail(error)
    if sent:
        click.echo("Rappels envoyés par courriel.")


@main.group(
    help="Rapports : financeurs (anonymisé), donateurs, activités (Coop), lieux de médiation "
    "numérique et données ouvertes par commune."
)
def report() -> None:
    pass


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"date attendue au format AAAA-MM-JJ : {value}") from None


@report.command("funder", help="Rapport d'un programme (ou de tous) sur une période, anonymisé.")
@click.option("--programme", default="all", help="Numéro ou nom du programme, ou « all ».")
@click.option("--from", "start", required=True, help="Début de la période (AAAA-MM-JJ).")
@click.option("--to", "end", required=True, help="Fin de la période, incluse (AAAA-MM-JJ).")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf", "csv", "xlsx"]), default="pdf")
@click.option("--threshold", type=int, default=None, help="Seuil de secret (défaut : 5).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report_funder(
    programme: str, start: str, end: str, fmt: str, threshold: int | None, out: Path
) -> None:
    async def build() -> bytes:
        programme_id = None
        if programme != "all":
            column = Programme.id if programme.isdigit() else Programme.name
            value = int(programme) if programme.isdigit() else programme
            row = await Programme.select(Programme.id).where(column == value).first()
            if row is None:
                raise DomainError(f"Programme inconnu : {programme}")
            programme_id = row["id"]
        computed = await funder.funder_report(
            programme_id, _day(start), _day(end), threshold=threshold
        )
        return render.render(computed, fmt)

    try:
        content = run_async(build())
    except DomainError as error:
        fail(error)
    out.write_bytes(content)
    click.echo(f"Rapport écrit dans {out} ({len(content)} octets).")


@report.command("donor", help="Devenir des appareils d'un donateur (PDF) ou lot des certificats.")
@click.option("--donor", "donor_id", type=int, required=True, help="Numéro du donateur.")
@click.option("--bundle", is_flag=True, help="Archive ZIP : rapport et certificats des dons.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report_donor(donor_id: int, bundle: bool, out: Path) -> None:
    async def build() -> bytes:
        if bundle:
            return await donor.certificate_bundle(donor_id, settings().base_url)
        return donor.donor_pdf(await donor.donor_report(donor_id, settings().base_url))

    try:
        content = run_async(build())
    except DomainError as error:
        fail(error)
    out.write_bytes(content)
    click.echo(f"Rapport écrit dans {out} ({len(content)} octets).")


@report.command("opendata", help="Données ouvertes : agrégats anonymisés par commune (CSV).")
@click.option("--from", "start", required=True, help="Début de la période (AAAA-MM-JJ).")
@click.option("--to", "end", required=True, help="Fin de la période, incluse (AAAA-MM-JJ).")
@click.option("--threshold", type=int, default=None, help="Seuil de secret (défaut : 5).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report_opendata(start: str, end: str, threshold: int | None, out: Path) -> None:
    try:
        rows = run_async(opendata.per_commune(_day(start), _day(end)))
    except DomainError as error:
        fail(error)
    out.write_bytes(opendata.to_csv(rows, threshold))
    click.echo(f"{len(rows)} communes écrites dans {out}.")


@report.command(
    "lieux",
    help="Les lieux de l'association au schéma national « lieux de médiation numérique » "
    "(CSV ou JSON), pour la Cartographie nationale et data·inclusion.",
)
@click.option("--format", "kind", type=click.Choice(["csv", "json"]), default="csv")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report_lieux(kind: str, out: Path) -> None:
    rows, left_out = run_async(lieux.places())
    out.write_bytes(lieux.to_csv(rows) if kind == "csv" else lieux.to_json(rows))
    click.echo(f"{len(rows)} lieux écrits dans {out}.")
    for name, lacking in left_out:
        click.echo(f"Lieu « {name} » non exporté : il manque {', '.join(lacking)}.", err=True)


@report.command(
    "activities",
    help="Activités de médiation d'une période au format d'export de la Coop de la médiation "
    "numérique (XLSX ou CSV, mêmes colonnes).",
)
@click.option("--from", "start", required=True, help="Début de la période (AAAA-MM-JJ).")
@click.option("--to", "end", required=True, help="Fin de la période, incluse (AAAA-MM-JJ).")
@click.option("--format", "fmt", type=click.Choice(list(activities_export.FORMATS)), default="xlsx")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report_activities(start: str, end: str, fmt: str, out: Path) -> None:
    try:
        export = run_async(activities_export.activities(_day(start), _day(end)))
        content = activities_export.render(export, fmt)
    except DomainError as error:
        fail(error)
    out.write_bytes(content)
    click.echo(f"{len(export.rows)} lignes d'activités écrites dans {out}.")
