"""API keys and the first write route, on SQLite and PostgreSQL: `directory keys`
(a key is shown once and kept only as a hash), the 401/403 problems of a write route, and
`POST /api/v1/imports` doing what `directory import` does."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select, update
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from directory import create_app
from directory.cli import cli
from directory.errors import WrongRoleError
from directory.ingest.refresh import write_lock
from directory.store.models import ApiKey, Organisation
from directory.usecases import keys
from tests.conftest import _COPIES, REAL_HASH_SECRET, shared_data_path
from tests.directory.test_import import BAD_AMOUNT, HEADER, OXYGEN, RESCUE, dump
from tests.directory.test_openapi import COMMITTED

REALM = 'Bearer realm="directory"'
#: rows that change on every authenticated request or run (last use, runs themselves)
VOLATILE = ("import_run", "api_key")


def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(cli, list(args))


def make_key(app: Flask, role: str, *options: str) -> dict[str, Any]:
    result = run(app, "keys", "create", "--role", role, *options, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def key_rows(app: Flask) -> list[Any]:
    with app.extensions["directory"].db.engine.connect() as connection:
        return connection.execute(select(ApiKey.__table__).order_by(ApiKey.id)).all()


def set_key(app: Flask, key_id: int, **values: Any) -> None:
    with app.extensions["directory"].db.engine.begin() as connection:
        connection.execute(update(ApiKey).where(ApiKey.id == key_id).values(**values))


def organisation_ref(app: Flask, name: str) -> str:
    with app.extensions["directory"].db.engine.connect() as connection:
        query = select(Organisation.ref).where(Organisation.name == name)
        return connection.execute(query).scalar_one()  # type: ignore[no-any-return]


def upload(
    app: Flask, body: str | bytes, *, key: str | None = None, name: str = "services.csv",
    headers: dict[str, str] | None = None, **form: str,
) -> Any:  # fmt: skip
    """POST the file (and form fields) as multipart/form-data. The form is encoded here, in
    memory: the test client would spool one over 500 KB to a temporary file it never
    closes."""
    data = body.encode() if isinstance(body, str) else body
    sent = dict(headers or {})
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    boundary, encoded = encode_multipart({"file": FileStorage(io.BytesIO(data), name), **form})
    return app.test_client().post(
        "/api/v1/imports", data=encoded, headers=sent,
        content_type=f"multipart/form-data; boundary={boundary}",
    )  # fmt: skip


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code
    return response.json  # type: ignore[no-any-return]


# -- the hash ------------------------------------------------------------------------------------


def test_a_hash_is_checked_by_the_parameters_stored_with_it():
    cheaper = keys.hash_secret("s3cret", n=2**10, r=4, p=1)
    assert cheaper.startswith("scrypt$n=1024,r=4,p=1$")
    assert keys.secret_matches("s3cret", cheaper)
    assert not keys.secret_matches("s3cret!", cheaper)


def test_the_same_secret_hashes_differently_each_time():
    assert keys.hash_secret("s3cret", n=2**10) != keys.hash_secret("s3cret", n=2**10)


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$n=1024,r=8,p=1$!!$!!", "md5$x$y"])
def test_a_stored_value_that_is_no_scrypt_hash_matches_nothing(stored):
    assert not keys.secret_matches("s3cret", stored)


def test_an_admin_may_do_what_any_role_may():
    admin = keys.Principal(1, "ops", "admin", None)
    assert keys.authorise(admin, "officer") is admin
    with pytest.raises(WrongRoleError):
        keys.authorise(keys.Principal(2, "org", "editor", 7), "officer")


# -- directory keys ----------------------------------------------------------------------------


def test_a_key_is_shown_once_and_only_a_hash_of_it_is_kept(writable_app, monkeypatch):
    monkeypatch.setattr(keys, "hash_secret", REAL_HASH_SECRET)  # the cost a real key is made at
    result = run(writable_app, "keys", "create", "--role", "admin", "--name", "Ops desk")
    assert result.exit_code == 0, result.output
    text = result.output.strip().splitlines()[-1]
    assert text.startswith("lfsd_") and "shown only this once" in result.output
    _lfsd, prefix, secret = text.split("_", 2)
    (row,) = key_rows(writable_app)
    assert row.name == "Ops desk" and row.role == "admin" and row.prefix == prefix
    assert row.secret_hash.startswith("scrypt$n=16384,r=8,p=1$")
    for value in row:
        assert secret not in str(value) and text not in str(value)


def test_the_list_of_keys_shows_no_secret(writable_app):
    made = make_key(writable_app, "officer", "--name", "Borough SPOC", "--expires", "2099-01-31")
    secret = made["key"].split("_", 2)[2]
    (row,) = key_rows(writable_app)
    listed = run(writable_app, "keys", "list")
    as_json = run(writable_app, "keys", "list", "--json")
    assert listed.exit_code == 0 and as_json.exit_code == 0
    assert "Borough SPOC (officer)" in listed.output and "expires 2099-01-31" in listed.output
    for output in (listed.output, as_json.output):
        assert secret not in output and row.secret_hash not in output
    (entry,) = json.loads(as_json.output)
    assert set(entry) == {
        "id", "name", "role", "organisation", "prefix", "created_at", "expires_at",
        "revoked_at", "last_used_at",
    }  # fmt: skip


def test_an_editor_key_belongs_to_an_organisation(writable_app, tmp_path):
    path = tmp_path / "services.csv"
    path.write_text(HEADER + OXYGEN)
    assert run(writable_app, "import", str(path)).exit_code == 0
    ref = organisation_ref(writable_app, "Oxygen")
    made = make_key(writable_app, "editor", "--organisation", ref)
    (row,) = key_rows(writable_app)
    assert row.organisation_id is not None and row.role == "editor"
    (entry,) = json.loads(run(writable_app, "keys", "list", "--json").output)
    assert entry["organisation"] == ref and entry["id"] == made["id"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "--role", "editor"], "An editor's key writes for one organisation"),
        (["create", "--role", "editor", "--organisation", "nobody"], "No organisation has"),
        (["create", "--role", "officer", "--organisation", "x"], "Only an editor's key"),
        (["create", "--role", "admin", "--expires", "2020-01-01"], "is not after today"),
        (["create", "--role", "admin", "--name", " "], "must be 1 to 120 characters"),
        (["revoke", "99"], "No key has the id 99."),
        # a name printed by `keys list` could forge a line (a new line, a terminal escape)
        (["create", "--role", "admin", "--name", "a\nKey #9 (root, admin)"], "one line of text"),
        (["create", "--role", "admin", "--name", "a\x1b[31mb"], "one line of text"),
    ],
)
def test_keys_commands_explain_what_is_wrong_in_one_line(writable_app, args, message):
    result = run(writable_app, "keys", *args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert key_rows(writable_app) == []


@pytest.mark.parametrize("key_id", ["99999999999999999999999", "2147483648", "0"])
def test_an_id_no_key_can_have_is_a_usage_error(writable_app, key_id):
    """It was a traceback on SQLite (OverflowError) and "the database cannot be used:
    integer out of range" on PostgreSQL, blaming a healthy database."""
    result = run(writable_app, "keys", "revoke", key_id)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert f"{key_id} is not in the range 1<=x<=2147483647" in result.output


def test_a_revoked_key_is_refused(writable_app):
    made = make_key(writable_app, "officer")
    result = run(writable_app, "keys", "revoke", str(made["id"]))
    assert result.exit_code == 0 and "revoked" in result.output
    assert key_rows(writable_app)[0].revoked_at is not None
    response = upload(writable_app, HEADER + OXYGEN, key=made["key"])
    assert_problem(response, 401, "revoked-key")
    assert response.headers["WWW-Authenticate"] == f'{REALM}, error="invalid_token"'


# -- authentication of POST /api/v1/imports ------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "code", "challenge"),
    [
        (None, "missing-key", REALM),
        ("Basic b2ZmaWNlcjpzZWNyZXQ=", "missing-key", REALM),
        ("Bearer", "missing-key", REALM),
        ("Bearer not-a-key", "invalid-key", f'{REALM}, error="invalid_token"'),
        (
            "Bearer lfsd_0123456789ab_" + "A" * 43,  # well formed, no such key
            "invalid-key",
            f'{REALM}, error="invalid_token"',
        ),
    ],
)
def test_a_write_without_a_usable_key_is_a_401_problem(writable_app, header, code, challenge):
    before = dump(writable_app, skip=())
    headers = {} if header is None else {"Authorization": header}
    response = upload(writable_app, HEADER + OXYGEN, headers=headers)
    assert_problem(response, 401, code)
    assert response.headers["WWW-Authenticate"] == challenge
    assert dump(writable_app, skip=()) == before


def test_a_key_with_the_right_prefix_and_a_wrong_secret_is_refused(writable_app):
    made = make_key(writable_app, "admin")
    forged = made["key"][:-4] + ("AAAA" if not made["key"].endswith("AAAA") else "BBBB")
    response = upload(writable_app, HEADER + OXYGEN, key=forged)
    assert_problem(response, 401, "invalid-key")


def test_an_expired_key_is_refused(writable_app):
    made = make_key(writable_app, "officer", "--expires", "2099-01-01")
    set_key(writable_app, made["id"], expires_at=datetime(2020, 1, 1))
    response = upload(writable_app, HEADER + OXYGEN, key=made["key"])
    problem = assert_problem(response, 401, "expired-key")
    assert "expired on 2020-01-01" in problem["detail"]
    assert response.headers["WWW-Authenticate"] == f'{REALM}, error="invalid_token"'


def test_an_editor_key_may_not_import(writable_app, tmp_path):
    path = tmp_path / "services.csv"
    path.write_text(HEADER + RESCUE)
    assert run(writable_app, "import", str(path)).exit_code == 0
    ref = organisation_ref(writable_app, "Safer London")
    made = make_key(writable_app, "editor", "--organisation", ref)
    response = upload(writable_app, HEADER + OXYGEN, key=made["key"])
    assert_problem(response, 403, "wrong-role")
    assert response.headers["WWW-Authenticate"] == f'{REALM}, error="insufficient_scope"'


@pytest.mark.parametrize("role", ["officer", "admin"])
def test_an_officer_or_admin_key_imports_and_the_run_names_it(writable_app, role):
    made = make_key(writable_app, role, "--name", f"{role} at MOPAC")
    response = upload(writable_app, HEADER + OXYGEN, key=made["key"], source="mopac-upload")
    assert response.status_code == 201, response.json
    run_ = response.json
    assert run_["status"] == "succeeded" and run_["source"] == "mopac-upload"
    assert run_["actor"] == f"{role} at MOPAC" and run_["counts"]["services"]["created"] == 1
    assert response.headers["Location"] == f"/api/v1/imports/{run_['id']}"
    shown = writable_app.test_client().get(response.headers["Location"]).json
    assert shown == run_
    assert writable_app.test_client().get("/api/v1/services/OXY-KT-01").status_code == 200
    (row,) = key_rows(writable_app)
    assert row.last_used_at is not None


def test_reads_stay_open_without_a_key(writable_app):
    make_key(writable_app, "admin")
    assert writable_app.test_client().get("/api/v1/imports").status_code == 200


# -- what POST /api/v1/imports does ---------------------------------------------------------------


@pytest.fixture()
def officer(writable_app) -> str:
    return make_key(writable_app, "officer", "--name", "officer")["key"]  # type: ignore[no-any-return]


def test_a_dry_run_reports_and_writes_nothing(writable_app, officer):
    before = dump(writable_app, skip=("api_key",))
    response = upload(writable_app, HEADER + OXYGEN + RESCUE, key=officer, dry_run="true")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["id"] is None and body["status"] == "dry-run"
    assert body["counts"]["services"]["created"] == 2 and body["actor"] == "officer"
    assert body["source"] == "services" and body["format"] == "template"
    assert dump(writable_app, skip=("api_key",)) == before


@pytest.fixture()
def other_app(request, writable_settings, tmp_path):  # type: ignore[no-untyped-def]
    """A second, empty directory on the same backend as ``writable_app``."""
    tmp = tmp_path / "other"
    tmp.mkdir()
    if writable_settings.is_sqlite:
        shutil.copy(request.getfixturevalue("sqlite_geography"), tmp / "directory.sqlite3")
        url = f"sqlite:///{tmp / 'directory.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres").create_database(
            f"other_{next(_COPIES)}",
            template=request.getfixturevalue("postgres_directory_template"),
        )
    app = create_app(writable_settings.with_overrides(instance_dir=tmp, database_url=url))
    yield app
    app.extensions["directory"].db.dispose()


def test_an_upload_imports_what_directory_import_imports(
    writable_app, other_app, officer, tmp_path
):
    path = tmp_path / "services.csv"
    path.write_text(HEADER + OXYGEN + RESCUE)
    by_api = upload(writable_app, path.read_bytes(), key=officer, source="mopac")
    assert by_api.status_code == 201, by_api.json
    by_cli = run(other_app, "import", str(path), "--source", "mopac", "--json")
    assert by_cli.exit_code == 0, by_cli.output
    assert by_api.json["counts"] == json.loads(by_cli.output)["counts"]
    exports = []
    for app, name in ((writable_app, "api.csv"), (other_app, "cli.csv")):
        assert run(app, "export", str(tmp_path / name)).exit_code == 0
        exports.append((tmp_path / name).read_bytes())
    assert exports[0] == exports[1]
    cli_run = other_app.test_client().get("/api/v1/imports").json["contents"][0]
    assert cli_run["actor"] is None and by_api.json["actor"] == "officer"


def _hsds(_tmp_path: Path, _app: Flask) -> tuple[str, bytes]:
    from tests.directory.ingest.test_hsds import services

    return "other-directory.json", json.dumps({"contents": services()}).encode()


def _giving(_tmp_path: Path, _app: Flask) -> tuple[str, bytes]:
    path = (
        shared_data_path() / "grants" / "grantnav_fixture_grants_london_recipients_360giving.json"
    )
    return path.name, path.read_bytes()


def _xlsx(tmp_path: Path, app: Flask) -> tuple[str, bytes]:
    csv = tmp_path / "services.csv"
    csv.write_text(HEADER + OXYGEN)
    assert run(app, "import", str(csv), "--source", "upload").exit_code == 0
    assert run(app, "export", str(tmp_path / "services.xlsx")).exit_code == 0
    return "services.xlsx", (tmp_path / "services.xlsx").read_bytes()


@pytest.mark.parametrize(
    ("make", "format_", "entity"),
    [
        (_hsds, "hsds", "services"),
        (_giving, "360giving", "grants"),
        (_xlsx, "template", "services"),
    ],
)
def test_each_kind_of_file_the_importer_reads_is_taken(
    writable_app, officer, tmp_path, make, format_, entity
):
    name, data = make(tmp_path, writable_app)
    response = upload(writable_app, data, key=officer, name=name, source="upload", dry_run="1")
    assert response.status_code == 200, response.json
    assert response.json["format"] == format_ and response.json["errors"] == 0
    assert sum(response.json["counts"][entity].values()) > 0


def test_a_refused_file_writes_nothing_and_says_why(writable_app, officer):
    before = dump(writable_app, skip=VOLATILE)
    response = upload(writable_app, HEADER + OXYGEN + BAD_AMOUNT, key=officer)
    problem = assert_problem(response, 422, "import-failed")
    error = next(p for p in problem["problems"] if p["severity"] == "error")
    assert error["row"] == 3 and error["column"] == "Amount" and error["value"] == "£1.2x"
    assert dump(writable_app, skip=VOLATILE) == before
    failed = writable_app.test_client().get(f"/api/v1/imports/{problem['import_run']}").json
    assert failed["status"] == "failed" and failed["actor"] == "officer"


def test_an_upload_while_another_writer_holds_the_lock_is_a_409(writable_app, officer):
    with write_lock(writable_app.extensions["directory"].db, "another-host:4242"):
        response = upload(writable_app, HEADER + OXYGEN, key=officer)
    problem = assert_problem(response, 409, "write-locked")
    assert "another-host:4242" in problem["detail"]
    refused = writable_app.test_client().get(f"/api/v1/imports/{problem['import_run']}").json
    assert refused["status"] == "refused" and refused["actor"] == "officer"
    assert writable_app.test_client().get("/api/v1/services").json["total_items"] == 0


def test_an_upload_over_the_size_cap_is_a_413(writable_settings, tmp_path):
    app = create_app(writable_settings.with_overrides(max_upload_mb=1))
    try:
        key = make_key(app, "officer")["key"]
        body = HEADER + OXYGEN * (2**20 // len(OXYGEN) + 1)
        assert_problem(upload(app, body, key=key), 413, "payload-too-large")
        assert app.test_client().get("/api/v1/imports").json["total_items"] == 0
    finally:
        app.extensions["directory"].db.dispose()


@pytest.mark.parametrize("name", ["services.pdf", "services.xls", "services"])
def test_a_file_the_importer_does_not_read_is_a_415(writable_app, officer, name):
    problem = assert_problem(
        upload(writable_app, HEADER + OXYGEN, key=officer, name=name), 415, "unsupported-file-type"
    )
    assert problem["accepted"] == [".csv", ".xlsx", ".json"]


def test_a_body_that_is_not_a_form_is_a_415(writable_app, officer):
    response = writable_app.test_client().post(
        "/api/v1/imports", data=HEADER + OXYGEN, content_type="text/csv",
        headers={"Authorization": f"Bearer {officer}"},
    )  # fmt: skip
    assert_problem(response, 415, "unsupported-media-type")


@pytest.mark.parametrize(
    ("form", "field"),
    [({"mode": "everything"}, "mode"), ({"format": "pdf"}, "format"), ({"source": ""}, "source")],
)
def test_an_invalid_form_field_is_a_422_naming_it(writable_app, officer, form, field):
    problem = assert_problem(
        upload(writable_app, HEADER + OXYGEN, key=officer, **form), 422, "invalid-input"
    )
    assert field in problem["errors"]


def test_an_upload_without_a_file_is_a_422(writable_app, officer):
    response = writable_app.test_client().post(
        "/api/v1/imports", data={"dry_run": "true"}, content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {officer}"},
    )  # fmt: skip
    assert "file" in assert_problem(response, 422, "invalid-input")["errors"]


@pytest.fixture()
def request_log(writable_settings) -> Any:  # type: ignore[no-untyped-def]
    """An app logging every request (INFO); the process's log level put back after."""
    level = logging.getLogger("directory").level
    app = create_app(writable_settings.with_overrides(log_level="INFO"))
    yield app
    app.extensions["directory"].db.dispose()
    logging.getLogger("directory").setLevel(level)


def test_a_key_is_never_written_to_the_log(request_log, capsys):
    made = make_key(request_log, "officer")
    capsys.readouterr()
    assert upload(request_log, HEADER + OXYGEN, key=made["key"]).status_code == 201
    assert upload(request_log, HEADER + OXYGEN, key=made["key"] + "x").status_code == 401
    logged = capsys.readouterr().err
    assert "POST /api/v1/imports 201" in logged and "POST /api/v1/imports 401" in logged
    assert made["key"].split("_", 2)[2] not in logged


def test_the_openapi_document_names_the_bearer_scheme_on_writes_only():
    document = json.loads(COMMITTED.read_text())
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    operations = {
        (method, path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if method != "parameters"
    }
    keyed = {
        operation["operationId"] for operation in operations.values() if operation.get("security")
    }
    writes = {
        operation["operationId"] for operation in operations.values()
        if re.match(r"(create|update|withdraw|delete|merge)[A-Z]", operation["operationId"])
    }  # fmt: skip
    assert {"createImport", "updateService", "deleteContact", "mergeOrganisation"} <= writes
    # every write, and the moderation of feedback (personal data: private reads)
    assert keyed == writes | {"listFeedback", "getFeedback", "moderateFeedback"}
    public = {o["operationId"] for o in operations.values() if o.get("security") == []}
    assert public == {"sendServiceFeedback", "sendOpportunityFeedback"}  # no key, said so
    assert "security" not in document  # reads take no key
    responses = document["paths"]["/api/v1/imports"]["post"]["responses"]
    assert {"200", "201", "401", "403", "409", "413", "415", "422"} <= set(responses)
    assert "WWW-Authenticate" in responses["401"]["headers"]


def test_an_upload_of_json_nested_too_deeply_is_a_422_not_a_500(writable_app, officer):
    """100,000 ``[`` uploaded without a format: the format's detection raised RecursionError
    (a 500); it is the import's one problem, as with a format given."""
    deep = "[" * 100_000 + "]" * 100_000
    for fmt in ({}, {"format": "360giving"}):
        response = upload(writable_app, deep, key=officer, name="deep.json", dry_run="true", **fmt)
        body = assert_problem(response, 422, "import-failed")
        assert [p["message"] for p in body["problems"]] == [
            "The file is not valid JSON: it is nested too deeply."
        ]


def test_a_write_looks_its_key_up_once(writable_app):
    """The rate limit names the key by its prefix, then the key is authenticated: one
    lookup of its row a request (there was one for each limit counted, and another to
    authenticate)."""
    made = make_key(writable_app, "admin")
    engine = writable_app.extensions["directory"].db.engine
    lookups: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if re.search(r"\bFROM api_key\b", statement) and statement.lstrip().upper().startswith(
            "SELECT"
        ):
            lookups.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        response = upload(writable_app, HEADER + OXYGEN, key=made["key"], dry_run="true")
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert response.status_code == 200, response.get_json()
    assert len(lookups) == 1, lookups
