"""A model-based test of the running server: random operations by every role, audited each step.

Hypothesis drives the real server (`reemploi serve`) over HTTP: pages with a session cookie and
the CSRF token, the API with bearer tokens, the admin as an administrator would click it (a
coordinator is refused there). Operations are drawn valid and invalid alike. After every step
the self-audit (`web.selfcheck.audit`) must
find nothing, and no answer may be a server error. `make soak` runs it long and prints figures.
"""

from __future__ import annotations

import base64
from collections import Counter
from datetime import date, timedelta
from typing import Any

import httpx
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from inventory import devices
from inventory.lifecycle import TRANSITIONS
from inventory.tables import Device
from tests.browser import PASSWORD
from tests.support import CHARTER_TEXT, clear_tables, run, signature_png
from web.accounts import create_token, create_user

ACCEPTED = {200, 201, 303}
REFUSED = {400, 403, 404, 409, 422}
SIGNATURE = base64.b64encode(signature_png()).decode()
TRANSITION_NAMES = sorted(TRANSITIONS)
REASONS = [None, "parts", "recycled_weee", "given", "lost", "stolen"]
# Figures of a whole run, across examples: printed by `make soak`.
FIGURES: Counter[str] = Counter()
# Why operations were refused (operation and the start of the sentence), to tune the model.
REFUSALS: Counter[str] = Counter()


def login(url: str, username: str) -> httpx.Client:
    """A person's browser session: the login form, then its cookie and CSRF token."""
    client = httpx.Client(base_url=url, timeout=60)
    client.get("/login")
    answer = client.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORD,
            "_csrf_token": client.cookies.get("reemploi_csrf", ""),
        },
    )
    assert answer.status_code in (200, 302, 303), answer.text[:300]
    client.get("/admin/")  # piccolo-admin sets its own CSRF cookie
    return client


def bearer(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"})


class WorkshopMachine(RuleBasedStateMachine):
    """The workshop as its people and stations use it; `url` is set by the test."""

    url = ""

    @initialize()
    def open_the_workshop(self) -> None:
        run(clear_tables())
        for role in ("technician", "mediator", "coordinator", "admin"):
            run(create_user(f"{role}-model", PASSWORD, role))
        self.station = bearer(self.url, run(create_token("poste-modele", "technician")))
        self.mediator = bearer(self.url, run(create_token("mediation-modele", "mediator")))
        self.manager = bearer(self.url, run(create_token("coordination-modele", "coordinator")))
        self.coordinator = login(self.url, "coordinator-model")
        self.technician = login(self.url, "technician-model")
        self.administrator = login(self.url, "admin-model")
        site = self._ok(self.manager.post("/api/v1/sites", json={"name": "Atelier modèle"}))
        donor = self._ok(
            self.manager.post("/api/v1/donors", json={"name": "Mairie", "kind": "public_body"})
        )
        self.site_id, self.donor_id = site["id"], donor["id"]
        self._ok(
            self.manager.post(
                "/api/v1/charters",
                json={
                    "title": "Charte de prêt",
                    "text": CHARTER_TEXT,
                    "in_force_from": (date.today() - timedelta(days=1)).isoformat(),
                },
            )
        )
        self.tags: list[str] = []
        self.borrowers: list[int] = []
        for kind in ("laptop", "screen"):
            lot = {"donor_id": self.donor_id, "site_id": self.site_id, "kind": kind}
            lot |= {"received_on": date.today().isoformat(), "device_count": 3}
            self.tags += self._ok(self.station.post("/api/v1/donations", json=lot))["tags"]
        for tag in self.tags[3:5]:  # two screens ready from the start, so loans come early
            body = {"transition": "qualify_without_storage"}
            self._ok(self.station.post(f"/api/v1/devices/{tag}/transitions", json=body))

    def _ok(self, answer: httpx.Response) -> Any:
        assert answer.status_code in ACCEPTED, f"{answer.status_code} {answer.text[:300]}"
        return answer.json()

    def _count(self, operation: str, answer: httpx.Response) -> httpx.Response:
        """Every answer is an acceptance or a refusal with a sentence, never a server error."""
        assert answer.status_code < 500, f"{operation}: {answer.status_code} {answer.text[:500]}"
        outcome = "ok" if answer.status_code in ACCEPTED else "refused"
        assert answer.status_code in ACCEPTED | REFUSED, f"{operation}: {answer.status_code}"
        FIGURES["operations"] += 1
        FIGURES[f"{operation}:{outcome}"] += 1
        if outcome == "refused":
            try:
                detail = str(answer.json().get("detail", ""))
            except ValueError:
                detail = answer.text.split('role="alert"')[-1][:200]
            REFUSALS[f"{operation}: {detail[:90]}"] += 1
        return answer

    def _form(
        self, client: httpx.Client, path: str, fields: dict[str, str], multipart: bool = True
    ) -> httpx.Response:
        """A page's form, posted as the browser does (its enctype, with the CSRF token)."""
        data = {**fields, "_csrf_token": client.cookies.get("reemploi_csrf", "")}
        if not multipart:
            return client.post(path, data=data)
        return client.post(path, files={k: (None, v) for k, v in data.items()})

    def _tag(self, data: st.DataObject, *states: str) -> str:
        """A known tag, mostly one in `states` (so that operations reach deep states)."""
        if not self.tags:
            return "RE-000001-X"
        pool = self.tags
        if states and data.draw(st.integers(0, 4)):
            rows = run(Device.select(Device.asset_tag).where(Device.state.is_in(list(states))))
            pool = [r["asset_tag"] for r in rows] or self.tags
        tag = data.draw(st.sampled_from(pool))
        # Now and then a misread: the same tag with a wrong check character.
        if data.draw(st.integers(0, 9)) == 0:
            tag = tag[:-1] + ("Z" if tag[-1] != "Z" else "Y")
        return tag

    # --- Technicians and stations -------------------------------------------------------------

    @rule(
        kind=st.sampled_from(["laptop", "screen"]),
        count=st.integers(1, 3),
        by_page=st.booleans(),
        new_donor=st.booleans(),
        future=st.integers(0, 9),
    )
    def intake(self, kind: str, count: int, by_page: bool, new_donor: bool, future: int) -> None:
        received = date.today() + timedelta(days=3 if future == 0 else 0)
        if by_page:
            fields = {
                "site_id": str(self.site_id),
                "received_on": received.isoformat(),
                "device_count": str(count),
                "kind": kind,
            }
            if new_donor:
                fields |= {"new_donor_name": "Entreprise donatrice", "new_donor_kind": "company"}
            else:
                fields["donor_id"] = str(self.donor_id)
            answer = self._count("intake-page", self._form(self.technician, "/intake", fields))
            if answer.status_code == 303:
                lot = answer.headers["location"].split("/")[2].split("?")[0]
                listed = self._ok(self.station.get("/api/v1/devices", params={"donation": lot}))
                self.tags += [d["asset_tag"] for d in listed["items"]]
            return
        answer = self._count(
            "intake-api",
            self.station.post(
                "/api/v1/donations",
                json={
                    "donor_id": self.donor_id,
                    "site_id": self.site_id,
                    "received_on": received.isoformat(),
                    "device_count": count,
                    "kind": kind,
                },
            ),
        )
        if answer.status_code in ACCEPTED:
            self.tags += answer.json()["tags"]

    @rule(data=st.data(), name=st.sampled_from(TRANSITION_NAMES), by_page=st.booleans())
    def generic_transition(self, data: st.DataObject, name: str, by_page: bool) -> None:
        tag, reason = self._tag(data), data.draw(st.sampled_from(REASONS))
        shown = self.station.get(f"/api/v1/devices/{tag}")
        allowed = shown.json()["allowed_transitions"] if shown.status_code == 200 else []
        if allowed and data.draw(st.integers(0, 3)):
            name = data.draw(st.sampled_from(allowed))  # mostly a button the card shows
        if by_page:
            fields = {"transition": name} | ({"reason": reason} if reason else {})
            self._count(
                "transition-page",
                self._form(self.coordinator, f"/d/{tag}/transitions", fields, multipart=False),
            )
        else:
            body = {"transition": name} | ({"reason": reason} if reason else {})
            self._count(
                "transition-api", self.station.post(f"/api/v1/devices/{tag}/transitions", json=body)
            )

    @rule(data=st.data(), honest=st.booleans(), method=st.sampled_from(["clear", "purge"]))
    def station_wipe(self, data: st.DataObject, honest: bool, method: str) -> None:
        tag = self._tag(data, "to_wipe")
        size = 64 * 1024 * 1024
        serial = f"SN-{tag}"
        started = self._count(
            "wipe-start",
            self.station.post(
                "/api/v1/sanitization/records",
                json={
                    "model": "Disque modèle",
                    "serial": serial,
                    "size_bytes": size,
                    "method_type": method,
                    "verification_method": "full",
                    "station": "poste-modele",
                    "host": "poste-modele.local",
                    "pid": 4242,
                    "pid_start": 1,
                    "transport": "sata",
                    "tag": tag,
                },
            ),
        )
        if started.status_code not in ACCEPTED:
            return
        record = started.json()["id"]
        finish: dict[str, Any] = {
            "status": "passed",
            "method_type": method,
            "method": "overwrite-zeros" if method == "clear" else "sanitize-block-erase",
            "tool": "reemploi-modele 1",
            "verification_method": "full" if method == "clear" else "markers",
            "verification_result": "passed",
            "verified_bytes": size if honest else 0,
            "bytes_written": size if honest and method == "clear" else 0,
        }
        if method == "purge" and honest:
            finish["evidence"] = {
                "commands": ["hdparm --sanitize-block-erase /dev/sdX"],
                "completion": "completed",
                "completion_source": "hdparm --sanitize-status",
                "markers": {"markers": 8, "survivors": 0, "passed": True, "zeros": 8},
            }
        self._count(
            "wipe-finish",
            self.station.post(f"/api/v1/sanitization/records/{record}/finish", json=finish),
        )

    @rule(data=st.data())
    def imaging_worker_verifies(self, data: st.DataObject) -> None:
        """What the deployment worker writes once a disk reads back the image it was sent."""
        tag = self._tag(data, "wiped")
        try:
            run(devices.record_image_verified(tag, True, "worker", {"image": "debian-modele"}))
            FIGURES["image-verified:ok"] += 1
        except Exception as refusal:  # a misread or unknown tag, as the worker would meet it
            assert refusal.__class__.__name__ in ("TagError", "TagMisread", "NotFound")
            FIGURES["image-verified:refused"] += 1

    # --- Mediators: loans, returns, repairs, sessions -----------------------------------------

    @rule(
        data=st.data(),
        new_borrower=st.booleans(),
        signed=st.integers(0, 5),
        by_page=st.booleans(),
        count=st.integers(1, 2),
    )
    def checkout(
        self, data: st.DataObject, new_borrower: bool, signed: int, by_page: bool, count: int
    ) -> None:
        tags = list(dict.fromkeys(self._tag(data, "ready") for _ in range(count)))
        known = data.draw(st.sampled_from(self.borrowers)) if self.borrowers else None
        new_borrower = new_borrower or known is None
        if by_page:
            fields = {
                "tags": "\n".join(tags),
                "signer_name": "Camille Modèle",
                "signer_role": "self",
            }
            if signed:
                fields["signature_data"] = "data:image/png;base64," + SIGNATURE
            if new_borrower:
                fields |= {"new_full_name": "Camille Modèle", "new_phone": "06 00 00 00 00"}
            else:
                fields["borrower_id"] = str(known)
            answer = self._count(
                "checkout-page", self._form(self.coordinator, "/loans/new", fields)
            )
            if answer.status_code == 303:
                loan_path = answer.headers["location"].replace("/", "/api/v1/", 1)
                self.borrowers.append(self._ok(self.mediator.get(loan_path))["borrower"])
            return
        body: dict[str, Any] = {"tags": tags}
        if signed:
            body["signature"] = {
                "method": "drawn",
                "image_base64": SIGNATURE,
                "signer_name": "Camille Modèle",
                "signer_role": "self",
            }
        if new_borrower:
            body["new_borrower"] = {"full_name": "Camille Modèle", "phone": "06 00 00 00 00"}
        else:
            body["borrower_id"] = known
        answer = self._count("checkout-api", self.mediator.post("/api/v1/loans", json=body))
        if answer.status_code in ACCEPTED:
            self.borrowers.append(answer.json()["borrower"])

    @rule(
        data=st.data(),
        reason=st.sampled_from(["end", "repair", "lost", "stolen"]),
        swap=st.booleans(),
        by_page=st.booleans(),
    )
    def give_back(self, data: st.DataObject, reason: str, swap: bool, by_page: bool) -> None:
        tag = self._tag(data, "loaned", "in_repair")
        fields = {"tag": tag, "reason": reason, "police_report": "PV-2026-001"}
        if swap and (reason == "repair" or data.draw(st.integers(0, 9)) == 0):
            fields["swap_tag"] = self._tag(data, "ready")
        if by_page:
            self._count("return-page", self._form(self.coordinator, "/returns", fields))
        else:
            self._count("return-api", self.mediator.post("/api/v1/loans/returns", json=fields))

    @rule(data=st.data(), outcome=st.sampled_from(["repaired", "swapped"]))
    def close_repair(self, data: st.DataObject, outcome: str) -> None:
        tickets = self._ok(self.mediator.get("/api/v1/repairs"))
        if not tickets:
            return
        ticket = data.draw(st.sampled_from(tickets))["id"]
        body: dict[str, Any] = {"outcome": outcome, "actions": "Clavier changé"}
        if outcome == "swapped":
            body["swap_tag"] = self._tag(data, "ready")
        self._count(
            "repair-close", self.mediator.post(f"/api/v1/repairs/{ticket}/close", json=body)
        )

    @rule(data=st.data(), status=st.sampled_from(["done", "missed", "cancelled"]))
    def record_session(self, data: st.DataObject, status: str) -> None:
        sessions = self._ok(self.mediator.get("/api/v1/sessions"))
        items = sessions["items"] if isinstance(sessions, dict) else sessions
        if not items:
            return
        session = data.draw(st.sampled_from(items))["id"]
        body: dict[str, Any] = {"status": status, "held_on": date.today().isoformat()}
        if status == "done":
            body |= {"duration_minutes": 60, "place_type": "lieu_activite", "autonomy": "autonome"}
            body["themes"] = ["prendre_en_main_du_materiel"]
        self._count(
            "session-record", self.mediator.post(f"/api/v1/sessions/{session}/record", json=body)
        )

    @rule(data=st.data())
    def erase_borrower(self, data: st.DataObject) -> None:
        if not self.borrowers:
            return
        borrower = data.draw(st.sampled_from(self.borrowers))
        self._count("erase", self.manager.post(f"/api/v1/borrowers/{borrower}/erase"))

    # --- The admin, as an administrator would try it (a coordinator is refused there) ---------

    @rule(table=st.sampled_from(["donor", "site", "organisation", "programme"]))
    def try_admin_delete(self, table: str) -> None:
        listed = self.coordinator.get(f"/admin/api/tables/{table}/", params={"__page_size": 5})
        assert listed.status_code == 403, f"a coordinator opened /admin ({listed.status_code})"
        rows = self.administrator.get(f"/admin/api/tables/{table}/", params={"__page_size": 5})
        if rows.status_code != 200 or not rows.json().get("rows"):
            return
        row = rows.json()["rows"][0]["id"]
        answer = self.administrator.delete(
            f"/admin/api/tables/{table}/{row}/",
            headers={"X-CSRFToken": self.administrator.cookies.get("csrftoken", "")},
        )
        assert answer.status_code >= 400, f"{table} {row} deleted through /admin"
        self._count("admin-delete", answer)

    # --- After every step -----------------------------------------------------------------

    @invariant()
    def the_self_audit_finds_nothing(self) -> None:
        from web.selfcheck import audit

        violations = run(audit())
        FIGURES["audits"] += 1
        FIGURES["violations"] += len(violations)
        assert not violations, "\n".join(v.sentence for v in violations)

    def teardown(self) -> None:
        for client in ("station", "mediator", "manager", "coordinator", "technician"):
            if hasattr(self, client):
                getattr(self, client).close()
