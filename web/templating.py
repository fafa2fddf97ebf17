"""The Jinja2 environment: gettext of the request's language, and a few globals."""

from __future__ import annotations

from litestar.plugins.jinja import JinjaTemplateEngine

from inventory.states import KIND_LABELS_FR, STATE_LABELS_FR
from web import i18n
from web.formatting import FILTERS
from web.navigation import may_open, menu_for
from web.roles import CAPABILITIES


def configure(engine: JinjaTemplateEngine) -> None:
    env = engine.engine
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["current_language"] = i18n.current_language.get
    env.globals["state_labels"] = {state.value: label for state, label in STATE_LABELS_FR.items()}
    env.globals["kind_labels"] = {kind.value: label for kind, label in KIND_LABELS_FR.items()}
    env.globals["menu_for"] = menu_for
    env.globals["may_open"] = may_open
    env.globals["capabilities"] = CAPABILITIES
    env.filters.update(FILTERS)
    env.policies["ext.i18n.trimmed"] = True
