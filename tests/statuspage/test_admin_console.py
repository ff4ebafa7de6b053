"""The console's forms end to end in-process: post, preview, update, resolve, edit, drafts,
maintenance, templates, tokens, audit."""

# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import sqlalchemy as sa
from starlette.testclient import TestClient

from statuspage.db import Database
from statuspage.models import Incident, IncidentComponent, IncidentUpdate, utcnow
from statuspage.models.operators import ApiToken, AuditEntry
from tests.statuspage.test_admin_support import (  # noqa: F401 - fixtures
    ADMIN,
    OPERATOR,
    admin,
    csrf_from,
    eventually_contains,
    form_post,
    operator,
    reused_postgres,
    settings,
    sqlite_only,
)

NEW = "/admin/incidents/new"


def incident_form(**overrides: str) -> dict[str, str | list[str]]:
    data: dict[str, str | list[str]] = {
        "name": "Pembelian e-meterai lambat", "status": "investigating", "impact": "minor",
        "body": "Kami sedang **menyelidiki**.", "component.pembelian": "degraded_performance",
        "notify": "on", "action": "create"}
    data.update(overrides)
    return data


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def create(admin: TestClient, **overrides: str) -> str:
    response = form_post(admin, NEW, NEW, incident_form(**overrides))
    assert response.status_code == 303, response.text
    return response.headers["location"].split("/admin/incidents/")[1].split("?")[0]


def test_post_incident_and_see_it_public(admin: TestClient, db: Database) -> None:
    before = db.change_counter()
    iid = create(admin)
    assert db.change_counter() > before
    page = admin.get(f"/admin/incidents/{iid}?done=created")
    assert "Insiden diterbitkan." in page.text and "<strong>menyelidiki</strong>" in page.text
    with db.session() as s:
        inc = s.get(Incident, iid)
        assert inc is not None and inc.created_by == ADMIN[0] and inc.status == "investigating"
        update = s.scalars(sa.select(IncidentUpdate)).one()
        assert update.notify and update.author == ADMIN[0]
    public = eventually_contains(admin, "/", "Pembelian e-meterai lambat")
    assert "Pembelian e-meterai lambat" in public.text


@sqlite_only
def test_preview_changes_nothing_and_keeps_input(admin: TestClient, db: Database) -> None:
    response = form_post(admin, NEW, NEW, incident_form(
        action="preview", body="# Judul\n\n- satu\n- dua\n\n[tautan](javascript:alert(1))"))
    assert response.status_code == 200
    assert "Pratinjau" in response.text
    assert "<li>satu</li>" in response.text
    preview = response.text.split('class="preview"')[1].split("</section>")[0]
    assert "href=\"javascript" not in preview.replace("'", '"').lower()
    assert 'value="Pembelian e-meterai lambat"' in response.text
    assert count(db, Incident) == 0


@sqlite_only
def test_bad_input_keeps_what_was_typed(admin: TestClient, db: Database) -> None:
    before = db.change_counter()
    response = form_post(admin, NEW, NEW, incident_form(
        name="", body="Pesan yang panjang diketik operator", **{"component.situs": "rusak"}))
    assert response.status_code == 422
    assert "Judul wajib diisi." in response.text
    assert "Status komponen tidak dikenal" in response.text
    assert "Pesan yang panjang diketik operator" in response.text
    assert '<option value="degraded_performance" selected>' in response.text
    assert count(db, Incident) == 0 and db.change_counter() == before
    long = form_post(admin, NEW, NEW, incident_form(body="x" * 20_001))
    assert long.status_code == 422 and "terlalu panjang" in long.text
    unknown = form_post(admin, NEW, NEW, incident_form(**{"component.tidakada": "major_outage"}))
    assert unknown.status_code == 422 and "Komponen tidak dikenal" in unknown.text


def test_update_resolve_reopen_postmortem(admin: TestClient, db: Database) -> None:
    iid = create(admin)
    page = f"/admin/incidents/{iid}"
    upd = form_post(admin, page, f"{page}/updates", {
        "status": "identified", "body": "Penyebab: antrean pembayaran.",
        "component.pembelian": "partial_outage", "action": "post"})
    assert upd.status_code == 303
    res = form_post(admin, page, f"{page}/resolve", {"body": "Sudah pulih."})
    assert res.status_code == 303
    with db.session() as s:
        inc = s.get(Incident, iid)
        assert inc is not None and inc.status == "resolved"
        assert {c.status for c in s.scalars(sa.select(IncidentComponent))} == {"operational"}
    refused = form_post(admin, page, f"{page}/updates", {
        "status": "investigating", "body": "Kambuh?", "action": "post"})
    assert refused.status_code == 422 and "sudah selesai" in refused.text
    assert "Kambuh?" in refused.text
    reopened = form_post(admin, page, f"{page}/updates", {
        "status": "investigating", "body": "Kambuh.", "reopen": "on", "action": "post"})
    assert reopened.status_code == 303
    form_post(admin, page, f"{page}/resolve", {"body": "Pulih lagi."})
    preview = form_post(admin, page, f"{page}/postmortem", {
        "body": "### Akar masalah\nKapasitas.", "action": "preview"})
    assert preview.status_code == 200 and "<h3>Akar masalah</h3>" in preview.text
    saved = form_post(admin, page, f"{page}/postmortem", {
        "body": "## Akar masalah\nKapasitas.", "action": "publish"})
    assert saved.status_code == 303
    with db.session() as s:
        inc = s.get(Incident, iid)
        assert inc is not None and inc.postmortem_published_at is not None
        statuses = [u.status for u in s.scalars(sa.select(IncidentUpdate)
                                                 .order_by(IncidentUpdate.display_at))]
    assert statuses == ["investigating", "identified", "resolved", "investigating", "resolved"]


@sqlite_only
def test_edit_update_with_history(admin: TestClient, db: Database) -> None:
    iid = create(admin, body="Pembeliam lambat.")
    with db.session() as s:
        uid = s.scalars(sa.select(IncidentUpdate.id)).one()
    edit = f"/admin/updates/{uid}/edit"
    assert form_post(admin, edit, edit, {"body": "", "action": "save"}).status_code == 422
    assert form_post(admin, edit, edit, {"body": "Pembelian lambat.",
                                         "action": "save"}).status_code == 303
    page = admin.get(edit)
    assert "Pembeliam lambat." in page.text and "dikoreksi oleh" in page.text
    assert "Pembelian lambat." in admin.get(f"/admin/incidents/{iid}").text


@sqlite_only
def test_template_prefills_the_form(admin: TestClient) -> None:
    page = admin.get(NEW)
    links = re.findall(r'href="/admin/incidents/new\?template=([a-z0-9]+)">([^<]+)<', page.text)
    names = {name: tid for tid, name in links}
    assert "Pembelian e-meterai lambat" in names
    assert "Layanan pembubuhan tidak tersedia" in names
    filled = admin.get(NEW, params={"template": names["Layanan pembubuhan tidak tersedia"]})
    assert 'value="Layanan pembubuhan tidak tersedia"' in filled.text
    assert '<option value="major_outage" selected>' in filled.text
    assert "Kuota yang sudah dibeli tidak hilang" in filled.text


def test_draft_published_from_dashboard(admin: TestClient, db: Database) -> None:
    with db.session() as s:
        draft = Incident(kind="incident", name="Gangguan pada Pembubuhan e-meterai",
                         status="investigating", impact="critical", is_draft=True,
                         created_by="probes", evidence={
                             "probes": ["stamp"], "since": utcnow().isoformat(),
                             "error_classes": {"http_503": 9}, "latency_p95_ms": 4200.0,
                             "suggested_status": "major_outage",
                             "components": {"pembubuhan": "major_outage"},
                             "summary": "Pemantauan otomatis mencatat gangguan total.",
                             "suggested_resolution": None, "recovered_at": None})
        s.add(draft)
        s.flush()
        did = draft.id
    dash = admin.get("/admin")
    assert "Draf dari probe (1)" in dash.text and "http_503: 9" in dash.text
    assert "4200 ms" in dash.text
    assert "Gangguan pada Pembubuhan" not in admin.get("/").text
    response = form_post(admin, "/admin", f"/admin/drafts/{did}/publish", {
        "name": "Gangguan pada Pembubuhan e-meterai",
        "body": "Pembubuhan gagal; kuota aman."})
    assert response.status_code == 303
    with db.session() as s:
        inc = s.get(Incident, did)
        assert inc is not None and not inc.is_draft and inc.created_by == "probes"
    assert "Gangguan pada Pembubuhan" in eventually_contains(admin, "/", "Pembubuhan gagal").text
    again = form_post(admin, "/admin", f"/admin/drafts/{did}/publish", {})
    assert again.status_code == 422


def test_schedule_maintenance(admin: TestClient, db: Database) -> None:
    start = (utcnow() + timedelta(days=1)).astimezone()
    from zoneinfo import ZoneInfo

    local = (utcnow() + timedelta(days=1)).astimezone(ZoneInfo("Asia/Jakarta"))
    data: dict[str, str | list[str]] = {
        "name": "Pemeliharaan basis data", "body": "Peningkatan kapasitas.",
        "start": local.strftime("%Y-%m-%dT%H:%M"),
        "end": (local + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "component": ["pembelian", "pembubuhan"], "auto_transition": "on",
        "action": "schedule"}
    bad = form_post(admin, "/admin/maintenance", "/admin/maintenance", {**data, "end": ""})
    assert bad.status_code == 422 and "Isi waktu selesai" in bad.text
    assert 'value="Pemeliharaan basis data"' in bad.text
    ok = form_post(admin, "/admin/maintenance", "/admin/maintenance", data)
    assert ok.status_code == 303
    with db.session() as s:
        m = s.scalars(sa.select(Incident).where(Incident.kind == "maintenance")).one()
        assert m.status == "scheduled" and m.auto_transition
        assert m.scheduled_for is not None
        assert abs((m.scheduled_for - start).total_seconds()) < 60
        assert sorted(c.component_id for c in m.components) == ["pembelian", "pembubuhan"]
    listing = admin.get("/admin/maintenance")
    assert "Pemeliharaan basis data" in listing.text and "WIB" in listing.text
    detail = admin.get(f"/admin/incidents/{m.id}")
    assert '<option value="in_progress">' in detail.text


def test_tokens_created_once_and_revoked(admin: TestClient, db: Database) -> None:
    refused = form_post(admin, "/admin/tokens", "/admin/tokens", {"name": " "})
    assert refused.status_code == 422 and "Nama token wajib diisi" in refused.text
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0
    created = form_post(admin, "/admin/tokens", "/admin/tokens", {"name": "deploy-bot"})
    assert created.status_code == 200
    secret = re.search(r'class="secret">(spt_[^<]+)<', created.text)
    assert secret is not None
    token = secret.group(1)
    assert token not in admin.get("/admin/tokens").text
    api = admin.post("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}, json={
        "name": "Dari bot", "status": "investigating", "impact": "minor", "body": "Halo"})
    assert api.status_code == 201
    with db.session() as s:
        row = s.scalars(sa.select(ApiToken)).one()
        assert row.last_used_at is not None and token not in (row.token_sha256, row.prefix)
    revoked = form_post(admin, "/admin/tokens", f"/admin/tokens/{row.id}/revoke", {})
    assert revoked.status_code == 303
    again = admin.post("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"},
                       json={"name": "x", "body": "y"})
    assert again.status_code == 401
    assert "dicabut" in admin.get("/admin/tokens").text


@sqlite_only
def test_operator_added_with_generated_password(admin: TestClient) -> None:
    response = form_post(admin, "/admin/operators", "/admin/operators",
                         {"email": "Baru@Example.id", "role": "operator"})
    assert response.status_code == 200
    assert "baru@example.id" in response.text and 'class="secret"' in response.text
    dup = form_post(admin, "/admin/operators", "/admin/operators",
                    {"email": "baru@example.id", "role": "operator", "password": "x" * 12})
    assert dup.status_code == 422 and "sudah terdaftar" in dup.text


@sqlite_only
def test_audit_log_and_csv(admin: TestClient, db: Database) -> None:
    create(admin, name="=HYPERLINK(\"http://evil\")")
    page = admin.get("/admin/audit")
    assert "incident.create" in page.text and "login" in page.text
    export = admin.get("/admin/audit.csv")
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    actions = {r["action"] for r in rows}
    assert {"login", "incident.create"} <= actions
    created = next(r for r in rows if r["action"] == "incident.create")
    assert created["actor"] == ADMIN[0] and created["address"]
    assert not created["detail"].startswith("=")
    filtered = admin.get("/admin/audit.csv", params={"action": "login"})
    assert {r["action"] for r in csv.DictReader(io.StringIO(filtered.text))} == {"login"}
    with db.session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(AuditEntry)).scalar_one() >= 2


@sqlite_only
def test_plain_operator_can_post_incidents(operator: TestClient, db: Database) -> None:
    iid = create(operator)
    assert operator.get(f"/admin/incidents/{iid}").status_code == 200
    nav = operator.get("/admin").text
    assert "/admin/audit" not in nav and "/admin/tokens" not in nav
    token = csrf_from(nav)
    assert token


@sqlite_only
def test_manage_templates(admin: TestClient) -> None:
    bad = form_post(admin, "/admin/templates", "/admin/templates", {
        "name": "", "status": "investigating", "impact": "minor", "body": "Teks"})
    assert bad.status_code == 422 and "Judul templat wajib" in bad.text
    assert 'aria-invalid="true"' in bad.text
    saved = form_post(admin, "/admin/templates", "/admin/templates", {
        "name": "Verifikasi QR lambat", "status": "identified", "impact": "minor",
        "body": "Pemindaian QR lambat.", "component.situs": "degraded_performance"})
    assert saved.status_code == 303
    page = admin.get("/admin/templates")
    tid = re.search(r'href="/admin/templates/([a-z0-9]+)">Verifikasi QR lambat<', page.text)
    assert tid is not None
    filled = admin.get(NEW, params={"template": tid.group(1)})
    assert "Pemindaian QR lambat." in filled.text
    changed = form_post(admin, f"/admin/templates/{tid.group(1)}",
                        f"/admin/templates/{tid.group(1)}", {
                            "name": "Verifikasi QR lambat", "status": "identified",
                            "impact": "major", "body": "Diubah."})
    assert changed.status_code == 303
    assert "Diubah." in admin.get(f"/admin/templates/{tid.group(1)}").text
    gone = form_post(admin, "/admin/templates", f"/admin/templates/{tid.group(1)}/delete", {})
    assert gone.status_code == 303
    assert "Verifikasi QR lambat" not in admin.get("/admin/templates").text


@sqlite_only
def test_save_form_as_template_and_list_incidents(admin: TestClient, db: Database) -> None:
    response = form_post(admin, NEW, NEW, incident_form(name="Antrean OTP",
                                                        action="save_template"))
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/incidents/new?template=")
    assert 'value="Antrean OTP"' in admin.get(response.headers["location"]).text
    assert count(db, Incident) == 0
    create(admin, name="Insiden satu")
    assert "Insiden satu" in admin.get("/admin/incidents").text


def test_guessing_the_current_password_locks_the_account(operator: TestClient) -> None:
    """A stolen session cannot try passwords on the account page without limit."""
    for _ in range(3):  # ThrottlePolicy.account_free, then each further attempt waits
        r = form_post(operator, "/admin/account", "/admin/account/password",
                      {"current_password": "bukan-ini", "new_password": "Baru-Sekali-2024!"})
        assert r.status_code == 422 and "Kata sandi saat ini salah." in r.text
    r = form_post(operator, "/admin/account", "/admin/account/password",
                  {"current_password": "bukan-ini", "new_password": "Baru-Sekali-2024!"})
    assert r.status_code == 422 and "Terlalu banyak percobaan gagal" in r.text
    # now even the right password is refused until the lockout ends or an admin lifts it
    r = form_post(operator, "/admin/account", "/admin/account/password",
                  {"current_password": OPERATOR[1], "new_password": "Baru-Sekali-2024!"})
    assert r.status_code == 422 and "Terlalu banyak percobaan gagal" in r.text


def test_preview_shows_the_whole_incident_as_the_public_will(admin: TestClient,
                                                             db: Database) -> None:
    response = form_post(admin, NEW, NEW, incident_form(
        action="preview", name="Pembubuhan gagal", impact="critical",
        **{"component.pembelian": "major_outage"}))
    preview = response.text.split('class="public-preview"')[1].split("</section>")[0]
    assert "Pembubuhan gagal" in preview  # the title
    assert "Sedang diselidiki" in preview  # the status, in the public words
    assert "Pembelian kuota" in preview and "Gangguan total" in preview  # component + status
    assert "<strong>menyelidiki</strong>" in preview  # the update, rendered
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Incident)) == 0


def test_resolved_preview_shows_no_outage_badges(admin: TestClient, db: Database) -> None:
    created = form_post(admin, NEW, NEW, incident_form(**{"component.pembelian": "major_outage"}))
    page = created.headers["location"].split("?")[0]
    response = form_post(admin, page, f"{page}/updates", {
        "status": "resolved", "body": "Sudah pulih.", "action": "preview"})
    preview = response.text.split('class="public-preview"')[1].split("</section>")[0]
    assert "Selesai" in preview and "Sudah pulih." in preview
    assert "Beroperasi normal" in preview
    for outage in ("Gangguan total", "Gangguan sebagian", "Kinerja menurun"):
        assert outage not in preview
