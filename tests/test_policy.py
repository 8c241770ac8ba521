"""Policy files and the pure diff: no database needed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from pgpath.errors import PgpathError
from pgpath.jsonio import dump_json
from pgpath.model import ClusterState, Database, Role, Scope, ServerDefault, Setting
from pgpath.plan import Change, change_doc, changes_json, diff, export_policy
from pgpath.policy import (
    Endpoint,
    PolicyError,
    load_policy_file,
    parse_policy,
    parse_policy_file,
    policy_document,
)
from pgpath.policy_schema import json_schema
from pgpath.render import dump_yaml
from pgpath.searchpath import SearchPath

EXAMPLE = """\
version: 1
unmanaged: keep            # keep | reset
all_roles: ["$user", public]
databases:
  appdb: [app, public]
  legacy: null
roles:
  app_rw: ["$user", app, public]
  reporting:
    search_path: [reporting, public]
    databases:
      appdb: [reporting, app, public]
      archive: []
"""


def test_the_documented_example() -> None:
    policy = parse_policy(EXAMPLE, "p.yaml")
    assert policy.scopes == {
        Scope(): SearchPath.of("$user", "public"),
        Scope(None, "appdb"): SearchPath.of("app", "public"),
        Scope(None, "legacy"): None,
        Scope("app_rw"): SearchPath.of("$user", "app", "public"),
        Scope("reporting"): SearchPath.of("reporting", "public"),
        Scope("reporting", "appdb"): SearchPath.of("reporting", "app", "public"),
        Scope("reporting", "archive"): SearchPath(()),
    }
    assert policy.unmanaged == "keep"
    assert not policy.warnings


def test_strings_are_read_with_postgresql_rules_and_lists_are_exact() -> None:
    policy = parse_policy('version: 1\nroles:\n  a: "App, \\"Mixed\\", public"\n  b: [App]\n')
    assert policy.scopes[Scope("a")] == SearchPath.of("app", "Mixed", "public")
    assert policy.scopes[Scope("b")] == SearchPath.of("App")


def test_omitted_scopes_are_not_managed() -> None:
    policy = parse_policy("version: 1\nroles:\n  r:\n    databases:\n      d: [x]\n")
    assert policy.scopes == {Scope("r", "d"): SearchPath.of("x")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 2\n", "p.yaml:1:1: unsupported policy: version 2"),
        ("unmanaged: keep\n", "p.yaml:1:1: unsupported policy: no version"),
        ("version: 1\nbogus: 1\n", "p.yaml:2:1: unknown key 'bogus'"),
        ("version: 1\nroles:\n  r:\n    serch_path: [a]\n", "p.yaml:4:5: unknown key 'serch_path'"),
        ("version: 1\nroles:\n  r: [a, 1]\n", "p.yaml:3:10: role r: schema name must be a "
                                               "string, not a number 1"),
        ("version: 1\nroles:\n  r: 5\n", "p.yaml:3:3: role r: a search path is a list"),
        ("version: 1\ndatabases: [a]\n", "p.yaml:2:1: databases must be a mapping"),
        ("version: 1\nroles:\n  r: [a, '']\n", "p.yaml:3:10: role r: empty schema name"),
        ("version: 1\nroles:\n  r: [a]\n  r: [b]\n", "p.yaml:4:3: duplicate key 'r'"),
        (f"version: 1\nroles:\n  r: [{'x' * 64}]\n", "longer than 63 bytes"),
        (f"version: 1\nroles:\n  {'r' * 64}: [a]\n", "p.yaml:3:3: role name"),
        ("version: 1\nunmanaged: drop\n", "p.yaml:2:1: unmanaged must be 'keep' or 'reset'"),
        ("version: 1\nall_roles: 'a,,b'\n", "p.yaml:2:1: all_roles: empty name"),
        ("version: true\n", "unsupported policy"),
        ("- just\n- a list\n", "p.yaml:1:1: a policy is a mapping"),
        ("version: 1\nroles: {a: [x]\n", "p.yaml:3:1: invalid YAML"),
        ("version: 1\ntargets: {}\n", "p.yaml:2:1: targets names no cluster"),
        ("version: 1\ntargets:\n  a: {dsn: 'postgresql://u:pw@h/d'}\n",
         "p.yaml:3:7: target a: never write a DSN"),
        ("version: 1\ntargets:\n  a: {roles: {}}\n", "p.yaml:3:3: target a: say how to"),
        ("version: 1\nroles: {}\ntargets:\n  a: {service: x}\n",
         "p.yaml:2:1: 'roles' beside 'targets'"),
    ],
)
def test_invalid_policies(text: str, expected: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "p.yaml")
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_targets() -> None:
    found = parse_policy_file(
        "version: 1\ntargets:\n"
        "  alpha:\n    dsn_env: ALPHA_DSN\n    read_dsn_env: ALPHA_RO_DSN\n"
        "    databases: {alpha: [alpha, public]}\n"
        "  prime:\n    service: prime\n    unmanaged: reset\n    roles: {app: [prime]}\n",
        "p.yaml")
    alpha, prime = found.targets
    assert found.multi and alpha.name == "alpha" and prime.name == "prime"
    assert alpha.write == Endpoint(env="ALPHA_DSN") and alpha.read == Endpoint(env="ALPHA_RO_DSN")
    assert prime.read == prime.write == Endpoint(service="prime")
    assert alpha.policy.scopes == {Scope(None, "alpha"): SearchPath.of("alpha", "public")}
    assert prime.policy.unmanaged == "reset"
    assert found.select(["prime"]) == (prime,)
    with pytest.raises(PgpathError, match="no target named beta"):
        found.select(["beta"])
    single = parse_policy_file("version: 1\nroles: {app: [x]}\n")
    assert not single.multi and single.targets[0].write is None
    with pytest.raises(PgpathError, match="--target needs"):
        single.select(["alpha"])


def test_every_problem_is_reported() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy("version: 1\nbad: 1\nroles:\n  r: [1]\n", "p.yaml")
    assert [str(p) for p in info.value.problems] == [
        "p.yaml:2:1: unknown key 'bad' (expected one of version, unmanaged, all_roles, "
        "databases, roles, or targets)",
        "p.yaml:4:7: role r: schema name must be a string, not a number 1 (quote it)",
    ]
    assert str(info.value).endswith("(and 1 more)")


def test_a_name_with_a_comma_is_kept_but_warned_about() -> None:
    text = "version: 1\nroles:\n  r: ['app, public']\n"
    policy = parse_policy(text, "p.yaml")
    assert policy.scopes[Scope("r")] == SearchPath.of("app, public")
    assert [str(w) for w in policy.warnings] == [
        "p.yaml:3:7: warning: role r: schema name 'app, public' contains a comma: it is one "
        "schema; write a list to mean several"]
    with pytest.raises(PolicyError, match=re.escape("p.yaml:3:7: role r: schema name 'app")):
        parse_policy(text, "p.yaml", strict=True)


def test_json_schema_accepts_the_example_and_rejects_mistakes() -> None:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(EXAMPLE), schema)
    jsonschema.validate({"version": 1, "targets": {"a": {"dsn_env": "A", "roles": {}}}},
                        schema)
    for bad in ({"version": 2}, {"version": 1, "roles": {"r": {"serch_path": []}}},
                {"version": 1, "databases": {"d": [""]}},
                {"version": 1, "targets": {"a": {"dsn": "postgresql://u:pw@h/d"}}},
                {"version": 1, "roles": {}, "targets": {"a": {"service": "a"}}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def _state(*settings: tuple[str | None, str | None, str], roles=("app", "rep"),
           databases=("appdb", "postgres")) -> ClusterState:
    return ClusterState(
        settings=tuple(Setting(Scope(r, d), raw) for r, d, raw in settings),
        roles=tuple(Role(r, True, False) for r in roles),
        databases=tuple(Database(d, True, False) for d in databases),
        server=ServerDefault('"$user", public', "default", True), server_version=180000,
    )


def test_diff_compares_parsed_lists() -> None:
    state = _state((None, None, "pg_catalog,public"), ("app", None, '"$user", app'))
    policy = parse_policy('version: 1\nall_roles: [pg_catalog, public]\n'
                          'roles:\n  app: ["$user", app, public]\n  rep: null\n')
    assert diff(policy, state) == [
        Change(Scope("app"), SearchPath.of("$user", "app"), SearchPath.of("$user", "app",
                                                                           "public")),
    ]


def test_unmanaged_reset_removes_what_the_file_does_not_name() -> None:
    state = _state((None, "appdb", "app"), ("rep", "appdb", "x"))
    policy = parse_policy("version: 1\nunmanaged: reset\ndatabases:\n  appdb: [app]\n")
    assert diff(policy, state) == [Change(Scope("rep", "appdb"), SearchPath.of("x"), None)]


def test_missing_roles_and_databases_are_one_error() -> None:
    policy = parse_policy("version: 1\ndatabases:\n  nodb: []\nroles:\n  ghost: []\n"
                          "  app:\n    databases:\n      gone: []\n", "p.yaml")
    with pytest.raises(PgpathError) as info:
        diff(policy, _state())
    assert str(info.value) == ("p.yaml: the cluster has no role 'ghost', database 'gone', "
                               "database 'nodb'")


def test_statements_are_composed_one_identifier_per_element() -> None:
    def text(change: Change) -> str:
        return change.statement().as_string(None)

    path = SearchPath.of("$user", "app, public", "Mixed")
    assert text(Change(Scope("r", "d"), None, path)) == (
        'ALTER ROLE "r" IN DATABASE "d" SET search_path = "$user", "app, public", "Mixed"')
    assert text(Change(Scope("r"), None, SearchPath(()))) == (
        "ALTER ROLE \"r\" SET search_path = ''")
    assert text(Change(Scope(None, "d"), path, None)) == 'ALTER DATABASE "d" RESET search_path'
    assert text(Change(Scope(), None, path)).startswith("ALTER ROLE ALL SET search_path = ")
    change = Change(Scope("r"), None, path)
    assert change.inverse() == Change(Scope("r"), path, None)
    assert change.inverse().action == "reset"


def test_export_round_trips_through_the_policy_format() -> None:
    state = _state((None, None, '"$user", public'), (None, "appdb", '""'),
                   ("app", None, 'app, "with,comma"'), ("rep", "appdb", "x"))
    exported = export_policy(state)
    again = parse_policy(dump_yaml(policy_document(exported)))
    assert again.scopes == exported.scopes
    assert diff(again, state) == []


@pytest.mark.parametrize("name", ["policy.yaml", "targets.yaml"])
def test_the_examples_are_valid(name: str) -> None:
    path = Path(__file__).parent.parent / "examples" / name
    found = load_policy_file(path, strict=True)
    assert all(t.policy.scopes for t in found.targets)


def test_validate_and_schema_commands(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pgpath.cli import app

    good = tmp_path / "good.yaml"
    good.write_text("version: 1\nroles:\n  r: ['app, public']\n")
    result = CliRunner().invoke(app, ["validate", str(good)])
    assert result.exit_code == 0
    assert result.stdout == f"{good}: valid (1 managed scopes)\n"
    assert result.stderr == (f"pgpath: {good}:3:7: warning: role r: schema name 'app, public' "
                             "contains a comma: it is one schema; write a list to mean "
                             "several\n")
    strict = CliRunner().invoke(app, ["validate", str(good), "--strict"])
    assert strict.exit_code == 1 and strict.stderr.startswith(f"pgpath: error: {good}:3:7:")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nbogus: 1\nroles:\n  r: [1]\n")
    result = CliRunner().invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 2
    missing = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "cannot read" in missing.stderr
    schema = CliRunner().invoke(app, ["schema"])
    assert json.loads(schema.stdout) == json_schema()


def test_changes_json_is_what_the_encoder_writes() -> None:
    names = ["plain", 'quo"te', "back\\slash", "ünï", "tab\there", "nl\nx", "\x01", "", "$user"]
    changes = [Change(Scope(r, d), before, after)
               for r in (None, *names[:4]) for d in (None, names[4], names[5])
               for before, after in ((None, SearchPath.of(*names)),
                                     (SearchPath(()), None),
                                     (SearchPath.of("a, b"), SearchPath.of(names[6], names[7])))]
    expected = [json.dumps(change_doc(c), ensure_ascii=False) for c in changes]
    assert changes_json(changes).items == expected
    assert json.loads(dump_json(changes_json(changes))) == [change_doc(c) for c in changes]
