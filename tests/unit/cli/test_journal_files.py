"""`mesobus log` and `mesobus replay` on files that are not a good journal: each says
what is wrong with the file in one line and exits 1; a torn tail is warned about and the
records before it are used."""

from __future__ import annotations

import os
import random

import msgpack
import pytest

from actors.cli.main import main
from actors.cluster import LocalCluster
from tests.support.recorded_framework import RecordedFramework


@pytest.fixture(scope="module")
def journal(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("journal-files") / "run.msgpack")
    with LocalCluster(agents=2, journal=path) as cluster:
        assert RecordedFramework.run(cluster, name="recorded", tasks=6).join(60)
    return path


def _write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert not any(internal in err for internal in ("Traceback", "strict_map_key", "Unpack", "codec can't")), err
    return lines[0]


COMMANDS = [["replay", "--actor", "all"], ["log", "show"], ["log", "trace", "x"], ["log", "export", "--out", "OUT"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_random_bytes_are_not_a_journal(tmp_path, capsys, command) -> None:
    path = _write(tmp_path, "random.msgpack", random.Random(7).randbytes(50_000))
    argv = [a.replace("OUT", str(tmp_path / "out.msgpack")) for a in command]
    assert main(argv + ["--file", path]) == 1
    out = capsys.readouterr()
    line = _one_error_line(out.err)
    assert f"journal file {path} is not a mesobus journal" in line and "at byte 0" in line
    assert out.out == ""
    assert not (tmp_path / "out.msgpack").exists()  # a failed export leaves nothing behind


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_an_empty_file_is_not_a_journal(tmp_path, capsys, command) -> None:
    path = _write(tmp_path, "empty.msgpack", b"")
    argv = [a.replace("OUT", str(tmp_path / "out.msgpack")) for a in command]
    assert main(argv + ["--file", path]) == 1
    assert f"journal file {path} is empty" in _one_error_line(capsys.readouterr().err)


def test_a_truncated_file_is_warned_about_and_read_up_to_the_tear(journal, tmp_path, capsys) -> None:
    data = open(journal, "rb").read()
    path = _write(tmp_path, "torn.msgpack", data[: len(data) - 7])
    assert main(["log", "show", "--file", path]) == 0
    out = capsys.readouterr()
    assert "ends with a torn record: the last" in out.err and "(was the writer killed?)" in out.err
    assert "mesobus log show: warning:" in out.err and "Traceback" not in out.err
    assert len(out.out.splitlines()) > 100
    assert main(["replay", "--file", path, "--actor", "all"]) == 0
    out = capsys.readouterr()
    assert "torn record" in out.err and out.out.count("matched") == 4


def test_a_bit_flip_names_the_byte_where_the_damage_is(journal, tmp_path, capsys) -> None:
    data = bytearray(open(journal, "rb").read())
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(bytes(data))
    starts = [unpacker.tell() for _ in unpacker]  # where each record after the first begins
    middle = starts[len(starts) // 2]
    data[middle: middle + 16] = b"\xc1" * 16  # 0xc1 is never used in msgpack
    path = _write(tmp_path, "flipped.msgpack", bytes(data))
    assert main(["replay", "--file", path, "--actor", "all"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert f"journal file {path} is damaged at byte" in line and "records before it were read" in line
    at = int(line.split("at byte ")[1].split(":")[0])
    assert at == middle
    assert main(["log", "show", "--file", path]) == 1
    out = capsys.readouterr()
    assert out.out  # the records before the damage were shown
    assert "is damaged at byte" in _one_error_line(out.err)


def test_a_directory_is_not_a_journal(tmp_path, capsys) -> None:
    assert main(["log", "show", "--file", str(tmp_path)]) == 1
    assert f"cannot open journal file {tmp_path}: Is a directory" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("argv, message", [
    (["--actor", "master", "--until", "nosuchid"], "--until nosuchid: no message with this id in the journal"),
    (["--actor", "master", "--incarnation", "5"], "--incarnation 5: master started once (0, or -1 for the last)"),
    (["--actor", "master", "--incarnation", "-2"], "--incarnation -2: master started once"),
    (["--actor", "all", "--until", "x"], "--until names one actor's input: give --actor ADDRESS"),
    (["--actor", "agent.nobody"], "--actor agent.nobody: no recorded start of 'agent.nobody'"),
])
def test_replay_options_that_name_nothing_in_the_journal_are_usage_errors(journal, capsys, argv, message) -> None:
    assert main(["replay", "--file", journal] + argv) == 2
    out = capsys.readouterr()
    assert message in _one_error_line(out.err) and "matched" not in out.out


def test_until_a_message_the_actor_did_not_handle_is_a_usage_error(journal, capsys) -> None:
    main(["log", "show", "--file", journal, "--actor", "master", "--type", "RegisterAgent"])
    sent_to_master = capsys.readouterr().out.split()[1]
    assert main(["replay", "--file", journal, "--actor", "allocator", "--until", sent_to_master]) == 2
    assert "allocator did not handle this message" in _one_error_line(capsys.readouterr().err)
    assert main(["replay", "--file", journal, "--actor", "master", "--until", sent_to_master]) == 0
    assert "master: matched" in capsys.readouterr().out


def test_follow_with_until_is_a_usage_error(journal, capsys) -> None:
    assert main(["log", "show", "--file", journal, "--follow", "--until", "1"]) == 2
    assert "give one of them" in _one_error_line(capsys.readouterr().err)


def test_export_replaces_its_output_instead_of_appending(journal, tmp_path, capsys) -> None:
    out = str(tmp_path / "copy.msgpack")
    sizes = []
    for _ in range(2):
        assert main(["log", "export", "--file", journal, "--out", out]) == 0
        sizes.append(os.path.getsize(out))
    assert sizes[0] == sizes[1]
    assert main(["replay", "--file", out, "--actor", "all"]) == 0
    assert capsys.readouterr().out.count("matched") == 4


@pytest.mark.parametrize("argv, message", [
    (["log", "show", "--since", "20", "--until", "10"], "--since is after --until"),
    (["log", "show", "--from-offset", "20", "--to-offset", "10"], "--to-offset is before --from-offset"),
    (["log", "export", "--since", "20", "--until", "10", "--out", "x.msgpack"], "--since is after --until"),
])
def test_an_empty_window_is_a_usage_error(journal, capsys, argv, message) -> None:
    assert main(argv[:2] + ["--file", journal] + argv[2:]) == 2
    assert message in _one_error_line(capsys.readouterr().err)


def test_an_unknown_message_type_is_a_usage_error(journal, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["log", "show", "--file", journal, "--type", "statusupdate"])
    assert exit_.value.code == 2
    assert "'statusupdate' is not a message type (did you mean StatusUpdate?)" in capsys.readouterr().err


def test_export_to_a_directory_is_a_usage_error(journal, tmp_path, capsys) -> None:
    assert main(["log", "export", "--file", journal, "--out", str(tmp_path)]) == 2
    assert "not a regular file" in _one_error_line(capsys.readouterr().err)


def test_a_start_record_that_cannot_be_rebuilt_is_one_line(tmp_path, capsys) -> None:
    from actors.journal import FileJournal
    from messages import JOURNAL, ActorStarted, Envelope, encode

    path = str(tmp_path / "odd.msgpack")
    with FileJournal(path) as out:
        env = Envelope(id="p.j1", sender="master", target=JOURNAL,
                       body=ActorStarted("master", "master", "p", 1, 0.0, {"no_such_setting": 1}))
        out.tap(env, encode(env))
    assert main(["replay", "--file", path, "--actor", "master"]) == 1
    assert "cannot rebuild master from its start record" in _one_error_line(capsys.readouterr().err)
