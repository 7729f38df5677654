"""The signed-in user is loaded once per request, by one statement built once (issues 16/17)."""

from __future__ import annotations

from flask_security.proxies import _security

from referrals.accounts.sign_in import UserDatastore
from referrals.extensions import db
from tests.statements import recorded_statements


def _statements(work) -> tuple[object, list[str]]:
    with recorded_statements() as seen:
        done = work()
    return done, seen


def test_the_session_user_comes_with_its_roles_and_agency_in_one_statement(make_user, agency):
    officer = make_user("officer", agency=agency)
    supervisor = make_user("supervisor")
    datastore = _security.datastore
    assert isinstance(datastore, UserDatastore)
    for user, roles in ((supervisor, ["supervisor"]), (officer, [])):
        uniquifier = user.fs_uniquifier
        db.session.expunge_all()

        def load():
            found = datastore.find_user(fs_uniquifier=uniquifier)
            return found, found.role_names, found.agency_suspended

        (found, role_names, _), statements = _statements(load)
        assert found.id == user.id and role_names == roles
        assert len(statements) == 1, statements
    assert datastore.find_user(fs_uniquifier="no such uniquifier") is None


def test_the_statement_is_built_once(make_user, monkeypatch):
    user = make_user("agent")
    built = UserDatastore._by_uniquifier

    def library_lookup(*args, **kwargs):
        raise AssertionError("the library's lookup builds a new statement each time")

    monkeypatch.setattr("flask_security.datastore.SQLAlchemyUserDatastore.find_user",
                        library_lookup)
    assert _security.datastore.find_user(fs_uniquifier=user.fs_uniquifier).id == user.id
    assert UserDatastore._by_uniquifier is built


def test_other_lookups_are_the_librarys(make_user):
    user = make_user("agent", email="Mixed.Case@test.example")
    datastore = _security.datastore
    assert datastore.find_user(email="Mixed.Case@test.example").id == user.id
    assert datastore.find_user(case_insensitive=True, email="mixed.case@TEST.example").id == user.id
    assert datastore.find_user(fs_uniquifier=user.fs_uniquifier, case_insensitive=True).id == user.id


def test_a_signed_in_page_loads_the_user_once(make_user, client, sign_in):
    sign_in(make_user("agent"))
    response, statements = _statements(lambda: client.get("/cases/?view=open"))
    assert response.status_code == 200
    assert sum("FROM users" in s and "cases" not in s for s in statements) == 1, statements
