"""The operator commands against a master whose HTTP API wants a principal: --principal /
--secret, $MESOBUS_PRINCIPAL / $MESOBUS_SECRET or the URL's user:secret@, and one line
(never a traceback, never the secret) when it refuses; `mesobus master`'s flags for it."""

from __future__ import annotations

import json

import pytest

from actors.cli.http_option import add_http_auth_flags, http_auth_from
from actors.cli.main import main
from actors.http import HttpServer
from actors.http.basic_auth import Credentials
from actors.operator import MasterSource, operator_app
from actors.operator.authenticate import HttpAuth
from actors.operator.writes import master_sender
from tests.unit.operator_api.conftest import wait_for


@pytest.fixture
def served(cluster):
    source = MasterSource("127.0.0.1:0")
    source.lead(cluster.master_ref.proxy().snapshots.get(), master_sender(cluster.transport))
    server = HttpServer(operator_app(source, auth=HttpAuth(Credentials({"ops": "s3cret"}))), "127.0.0.1", 0).start()
    source.http_address = f"127.0.0.1:{server.port}"
    yield server.url
    server.stop()


def _run(argv, capsys, monkeypatch, env=None):
    for name in ("MESOBUS_PRINCIPAL", "MESOBUS_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_without_a_principal_the_command_says_how_to_give_one(served, capsys, monkeypatch):
    code, out, err = _run(["agents", "--master", served], capsys, monkeypatch)
    assert code == 1 and out == ""
    assert err.strip().count("\n") == 0 and "asks for a principal" in err and "--principal" in err
    assert "Traceback" not in err


def test_a_wrong_secret_is_one_line_that_does_not_show_the_secret(served, capsys, monkeypatch):
    code, _, err = _run(["agents", "--master", served, "--principal", "ops", "--secret", "guess"], capsys, monkeypatch)
    assert code == 1 and "refused principal 'ops'" in err and "guess" not in err and err.count("\n") == 1
    url = served.replace("http://", "http://ops:guess@")
    code, _, err = _run(["agents", "--master", url], capsys, monkeypatch)
    assert code == 1 and "refused principal 'ops'" in err and "guess" not in err


def test_principal_from_flags_environment_or_url(served, capsys, monkeypatch, cluster):
    wait_for(lambda: _run(["agents", "--master", served, "--principal", "ops", "--secret", "s3cret"],
                          capsys, monkeypatch)[1].count("\n") >= 3, message="both agents listed")
    code, out, _ = _run(["state", "--master", served], capsys, monkeypatch,
                        {"MESOBUS_PRINCIPAL": "ops", "MESOBUS_SECRET": "s3cret"})
    assert code == 0 and len(json.loads(out)["slaves"]) == 2
    code, out, _ = _run(["weights", "--master", served.replace("http://", "http://ops:s3cret@"), "dev=2"],
                        capsys, monkeypatch)
    assert code == 0


def _flags(argv):
    import argparse

    parser = argparse.ArgumentParser()
    add_http_auth_flags(parser)
    return http_auth_from(parser.parse_args(argv))


def test_master_flags_default_to_authenticating_everything_once_credentials_are_given(tmp_path):
    creds = tmp_path / "http.json"
    creds.write_text(json.dumps({"credentials": [{"principal": "ops", "secret": "s3cret"}]}))
    assert _flags([]) is None
    auth = _flags(["--http-credentials", str(creds)])
    assert (auth.readonly, auth.readwrite, auth.credentials.check("ops", "s3cret")) == (True, True, True)
    auth = _flags(["--http-credentials", str(creds), "--no-authenticate-http-readonly"])
    assert (auth.readonly, auth.readwrite) == (False, True)


@pytest.mark.parametrize("text, problem", [
    (None, "needs --http-credentials"),
    ("{", "not JSON"),
    ('{"credentials": [{"principal": "ops"}]}', "credentials[0]"),
    ('{"credentials": []}', "no principals"),
    ('{"credentials": [{"principal": "a:b", "secret": "x"}]}', "cannot contain ':'"),
])
def test_master_flags_name_what_is_wrong(tmp_path, text, problem):
    argv = ["--authenticate-http-readwrite"]
    if text is not None:
        (tmp_path / "c.json").write_text(text)
        argv += ["--http-credentials", str(tmp_path / "c.json")]
    with pytest.raises(ValueError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        _flags(argv)


def test_mesobus_master_refuses_a_bad_credentials_file_in_one_line(tmp_path, capsys):
    (tmp_path / "c.json").write_text("[]")
    code = main(["master", "--broker", "amqp://127.0.0.1:1/", "--http", "off", "--http-credentials", str(tmp_path / "c.json")])
    err = capsys.readouterr().err
    assert code == 2 and "--http-credentials" in err and "Traceback" not in err
