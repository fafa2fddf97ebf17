"""The project's documentation stays true: every `reemploi …` command the operations guide (and
every other page of docs/, and the README) shows exists, with its options, in `reemploi --help`;
every relative link in docs/ and README.md leads to a file (and a heading) of the repository; each
role's guide walks through its menu."""

from __future__ import annotations

import re
import shlex
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from web.cli import main
from web.navigation import menu_for

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").rglob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]
OPERATIONS = ROOT / "docs" / "operations.md"

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"(?<!`)`([^`\n]+(?:\n[^`\n]+)?)`(?!`)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
# Words after which `reemploi` is a command being run (not a user name or a folder).
COMMAND_POSITION = {"|", "||", "&&", ";", "(", "$(", "sudo", "exec", "time", "nohup"}
SHELL_STOP = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "&", ")", "#"}


def _help(*words: str) -> str:
    result = CliRunner().invoke(main, [*words, "--help"], prog_name="reemploi")
    assert result.exit_code == 0, f"reemploi {' '.join(words)} --help: {result.output}"
    return result.output


def _logical_lines(text: str) -> list[str]:
    return text.replace("\\\n", " ").splitlines()


def _words(line: str) -> list[str]:
    line = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
    try:
        return shlex.split(line, posix=True)
    except ValueError:  # an unbalanced quote in prose: plain words are enough here
        return line.split()


def _is_reemploi(words: list[str], i: int) -> bool:
    word = words[i].split("=", 1)[-1] if words[i].startswith("ExecStart=") else words[i]
    if word.endswith("bin/reemploi"):
        return True
    if word != "reemploi":
        return False
    before = words[i - 1] if i else ""
    return i == 0 or before in COMMAND_POSITION or re.fullmatch(r"[A-Z_]+=\S*", before) is not None


def invocations(text: str) -> list[list[str]]:
    """The words given to `reemploi` on each command line of `text`."""
    found = []
    for line in _logical_lines(text):
        words = _words(line)
        for i in range(len(words)):
            if _is_reemploi(words, i):
                args = []
                for word in words[i + 1 :]:
                    if word in SHELL_STOP or word.startswith(("#", ">")):
                        break
                    args.append(word.strip("[]"))
                found.append(args)
    return found


def commands_shown(path: Path) -> list[list[str]]:
    text = path.read_text()
    shown = [args for block in FENCE.findall(text) for args in invocations(block)]
    prose = FENCE.sub("", text)
    for span in INLINE.findall(prose):
        if re.match(r"(?:\S*/)?reemploi\s", span):
            shown += invocations(span.replace("\n", " "))
    return shown


def _check(args: list[str]) -> None:
    """`reemploi ARGS`: the command (and subcommand) exists, and so does every option given."""
    assert args, "`reemploi` without a command"
    if args[0] == "--help":
        _help()
        return
    # `reemploi report funder|donor|opendata …` shows several commands at once: check each.
    for i, word in enumerate(args[:2]):
        if "|" in word and not word.startswith("-"):
            for alternative in word.split("|"):
                _check([*args[:i], alternative, *args[i + 1 :]])
            return
    name = args[0]
    assert name in main.commands, f"`reemploi {name}`: no such command in `reemploi --help`"
    assert re.search(rf"^\s+{re.escape(name)}\s", _help(), re.M), f"{name} not in --help"
    path = [name]
    rest = args[1:]
    group = main.commands[name]
    subcommands = getattr(group, "commands", None)
    if subcommands is not None:
        assert rest and rest[0] in subcommands, (
            f"`reemploi {' '.join(args)}`: the subcommand must be one of {sorted(subcommands)}"
        )
        assert re.search(rf"^\s+{re.escape(rest[0])}\s", _help(name), re.M)
        path.append(rest[0])
        rest = rest[1:]
    text = _help(*path)
    for word in rest:
        if word.startswith("--"):
            option = word.split("=", 1)[0]
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), (
                f"`reemploi {' '.join(path)}` has no option {option}"
            )


def test_the_operations_guide_shows_commands() -> None:
    shown = commands_shown(OPERATIONS)
    names = {args[0] for args in shown if args}
    # The guide walks through install, accounts, services, daily tasks, backups and the audit.
    assert {"migrate", "createuser", "token", "serve", "worker", "backup", "restore"} <= names
    assert {"check", "purge", "reminders"} <= names


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(args, id=f"{page.name}: reemploi {' '.join(args)}")
        for page in PAGES
        for args in commands_shown(page)
    ],
)
def test_every_command_shown_exists(args: list[str]) -> None:
    _check(args)


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = unicodedata.normalize("NFC", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    return {_slug(m) for m in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)}


def _links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text())
    text = INLINE.sub("", text)
    return [
        target
        for target in LINK.findall(text)
        if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("/")
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    for target in _links(page):
        file, _, anchor = target.partition("#")
        destination = (page.parent / file).resolve() if file else page
        assert destination.exists(), f"{page.name}: the link {target} leads nowhere"
        assert destination.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
        if anchor and destination.suffix == ".md":
            assert anchor in _anchors(destination), f"{page.name}: no heading #{anchor}"


def test_the_readme_points_only_inside_the_repository() -> None:
    text = (ROOT / "README.md").read_text()
    assert "../" not in text and "DESIGN.md" not in text
    for doc in ("architecture", "operations", "integrity", "certificates", "privacy"):
        assert f"(docs/{doc}.md)" in text


def test_a_guide_per_role() -> None:
    guides = ROOT / "docs" / "guides"
    for role in ("technicien", "mediateur", "coordination", "partenaire", "financeur"):
        assert (guides / f"{role}.md").exists()
    assert (guides / "administrateur.md").exists()


def test_every_setting_is_in_the_operations_table() -> None:
    """Each `REEMPLOI_*` variable `inventory/config.py` reads has its row in the guide."""
    source = (ROOT / "inventory" / "config.py").read_text()
    names = set(re.findall(r'_env\("([A-Z_]+)"', source))
    names |= {n.removeprefix("REEMPLOI_") for n in re.findall(r'"(REEMPLOI_[A-Z_]+)"', source)}
    table = OPERATIONS.read_text()
    missing = sorted(n for n in names if f"`REEMPLOI_{n}`" not in table)
    assert not missing, f"not in docs/operations.md: {missing}"


GUIDES = {
    "technician": "technicien",
    "mediator": "mediateur",
    "coordinator": "coordination",
    "partner": "partenaire",
    "funder": "financeur",
    "admin": "administrateur",
}


@pytest.mark.parametrize("role", sorted(GUIDES))
def test_each_guide_walks_through_its_menu(role: str) -> None:
    """A role's guide names every page of that role's menu (`web/navigation.py`), by its
    menu label and its address; the coordination and administration guides may send the reader
    to the technician's and mediator's guides for the pages they share."""

    def text(name: str) -> str:
        return (ROOT / "docs" / "guides" / f"{name}.md").read_text()

    guide = text(GUIDES[role])
    shared = guide
    if role in ("coordinator", "admin"):
        shared += text("technicien") + text("mediateur") + text("coordination")
    for entry in menu_for(role):
        assert entry.label in shared, f"{GUIDES[role]}.md does not name « {entry.label} »"
        assert f"`{entry.path.rstrip('/')}" in shared, f"{GUIDES[role]}.md: no page {entry.path}"
