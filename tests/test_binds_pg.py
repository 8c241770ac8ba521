"""The Flask-SQLAlchemy binds world on real PostgreSQL: Person on bind alpha, Book on bind
prime (two databases), a read-only bind on alpha; `pgpath models`, `--binds`, and the
SQLAlchemy helpers."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.orm import lazyload
from typer.testing import CliRunner

from pgpath.cli import app
from pgpath.policy import parse_policy
from pgpath.sqlalchemy import SearchPathMismatch, assert_search_path, pin_search_path
from tests.conftest import Pg

pytestmark = pytest.mark.pg
ident = sql.Identifier

APP = '''
import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy


class Config:
    SQLALCHEMY_DATABASE_URI = os.environ["BINDS_ALPHA"]
    SQLALCHEMY_BINDS = {
        "alpha": os.environ["BINDS_ALPHA"],
        "alpha_readonly": {"url": os.environ["BINDS_ALPHA_RO"]},
        "prime": os.environ["BINDS_PRIME"],
    }


db = SQLAlchemy()


class Person(db.Model):
    __bind_key__ = "alpha"
    __tablename__ = "person"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String)
    books = db.relationship("Book", lazy="select", viewonly=True)
    books_joined = db.relationship("Book", lazy="joined", viewonly=True)


class Book(db.Model):
    __bind_key__ = "prime"
    __tablename__ = "book"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String)
    person_id = db.Column(db.Integer, db.ForeignKey(Person.id))


class Author(db.Model):
    __bind_key__ = "prime"
    __tablename__ = "author"
    id = db.Column(db.Integer, primary_key=True)


app = Flask(__name__)
app.config.from_object(Config)
db.init_app(app)
'''


def url(pg: Pg, user: str, db: str) -> str:
    params = conninfo_to_dict(pg.dsn())
    return (f"postgresql+psycopg://{user}:pw@/{db}?host={params['host']}"
            f"&port={params['port']}")


@pytest.fixture
def world(pg: Pg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    app_role, reader = pg.role("app"), pg.role("reader")
    alpha, prime = pg.database("alpha"), pg.database("prime")
    pg.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(
        ident(reader)))
    for statement in (
        "CREATE SCHEMA alpha",
        "CREATE TABLE alpha.person (id serial PRIMARY KEY, name text)",
        "INSERT INTO alpha.person (name) VALUES ('Tim'), ('Tom'), ('Mazie')",
        "CREATE TABLE public.person (id serial PRIMARY KEY, name text)",  # a shadow
        sql.SQL("GRANT USAGE ON SCHEMA alpha TO {}, {}").format(ident(app_role), ident(reader)),
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA alpha, public TO {}, {}").format(
            ident(app_role), ident(reader)),
        sql.SQL("ALTER DATABASE {} SET search_path = alpha, public").format(ident(alpha)),
    ):
        pg.execute(statement, dbname=alpha)
    for statement in (
        "CREATE SCHEMA prime",
        "CREATE TABLE prime.book (id serial PRIMARY KEY, name text, person_id integer)",
        "INSERT INTO prime.book (name, person_id) VALUES ('Twice too many', 1), "
        "('Once upon a time', 2), ('Twelve Monkeys', 1)",
        sql.SQL("GRANT USAGE ON SCHEMA prime TO {}").format(ident(app_role)),
        sql.SQL("GRANT SELECT ON prime.book TO {}").format(ident(app_role)),
        sql.SQL("ALTER DATABASE {} SET search_path = prime").format(ident(prime)),
    ):
        pg.execute(statement, dbname=prime)
    module = f"binds_app_{pg.token}"
    (tmp_path / f"{module}.py").write_text(APP)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("BINDS_ALPHA", url(pg, app_role, alpha))
    monkeypatch.setenv("BINDS_ALPHA_RO", url(pg, reader, alpha))
    monkeypatch.setenv("BINDS_PRIME", url(pg, app_role, prime))
    yield module, app_role, reader, alpha, prime
    sys.modules.pop(module, None)


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_models_report_what_the_live_paths_do(world) -> None:
    module, *_ = world
    result = run("models", f"{module}:db", "--binds", f"{module}:Config", "--format", "json")
    assert result.exit_code == 2, result.stderr
    findings = json.loads(result.stdout)
    by_code: dict[str, list[dict]] = {}
    for f in findings:
        by_code.setdefault(f["code"], []).append(f)
    (missing,) = by_code["PGM001"]
    assert missing["model"] == "Author" and missing["bind"] == "prime"
    assert missing["severity"] == "error"
    (shadow,) = by_code["PGM002"]
    assert shadow["table"] == "person" and "alpha, public" in shadow["message"]
    assert shadow["fix"] == '__table_args__ = {"schema": "alpha"}'
    resolved = {f["table"]: f["fix"] for f in by_code["PGM003"]}
    assert resolved == {"person": '__table_args__ = {"schema": "alpha"}',
                        "book": '__table_args__ = {"schema": "prime"}'}
    (fk,) = by_code["PGM010"]
    assert "book.person_id -> person" in fk["message"]
    (joined,) = by_code["PGM020"]
    assert "Person.books_joined" in joined["message"] and "'joined'" in joined["message"]
    (select,) = by_code["PGM021"]
    assert "Person.books" in select["message"] and select["severity"] == "info"


def test_the_joined_relationship_fails_and_the_select_one_works(world) -> None:
    module, *_ = world
    mod = __import__(module)
    with mod.app.app_context():
        db, person_cls = mod.db, mod.Person
        person = db.session.execute(
            db.select(person_cls).options(lazyload(person_cls.books_joined)).order_by(
                person_cls.id)).scalars().first()
        assert person.name == "Tim"
        assert sorted(b.name for b in person.books) == ["Twelve Monkeys", "Twice too many"]
        db.session.rollback()
        with pytest.raises(sa.exc.ProgrammingError, match='relation "book" does not exist'):
            db.session.execute(db.select(person_cls)).scalars().first()
        db.session.rollback()


def test_resolve_each_binds_role(world) -> None:
    module, app_role, reader, alpha, _ = world
    result = run("resolve", "--binds", f"{module}:Config", "--format", "json")
    assert result.exit_code == 0, result.stderr
    docs = {d["target"]: d["result"] for d in json.loads(result.stdout)}
    assert set(docs) == {"default", "alpha", "alpha_readonly", "prime"}
    assert (docs["alpha_readonly"]["role"], docs["alpha_readonly"]["database"]) == (reader, alpha)
    assert docs["alpha"]["search_path"] == ["alpha", "public"]
    assert docs["prime"]["role"] == app_role and docs["prime"]["search_path"] == ["prime"]
    assert "pw" not in result.stdout + result.stderr.replace("pgpath", "")
    settings = run("settings", "--binds", f"{module}:Config", "--format", "json")
    groups = json.loads(settings.stdout)
    # default, alpha and alpha_readonly reach the same database: one section for them.
    assert [(g["target"], g.get("also", [])) for g in groups] == [
        ("default", ["alpha", "alpha_readonly"]), ("prime", [])]


def test_pin_and_assert_search_path(world, pg: Pg) -> None:
    _, app_role, _, alpha, _ = world

    engine = sa.create_engine(os.environ["BINDS_ALPHA"], pool_size=1)
    pinned = sa.create_engine(os.environ["BINDS_ALPHA"], pool_size=1)
    pin_search_path(pinned, ["public", "Mixed Case"])
    try:
        for _ in range(3):  # the same pooled connection, returned and checked out again
            with pinned.connect() as conn:
                shown = conn.execute(sa.text("SHOW search_path")).scalar()
                conn.rollback()
            assert shown == 'public, "Mixed Case"'
        assert_search_path(pinned, ["public", "Mixed Case"])
        policy = parse_policy(f"version: 1\ndatabases:\n  {alpha}: [alpha, public]\n")
        assert assert_search_path(engine, policy=policy).schemas == ("alpha", "public")
        with pytest.raises(SearchPathMismatch, match='gets search_path public, "Mixed Case"'):
            assert_search_path(pinned, policy=policy)
        other = parse_policy(f"version: 1\nroles:\n  {app_role}: [elsewhere]\n")
        with pytest.raises(SearchPathMismatch, match="expected elsewhere"):
            assert_search_path(engine, policy=other)
    finally:
        engine.dispose()
        pinned.dispose()
