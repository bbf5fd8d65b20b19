"""The id rules (messages/ids.py): one set of rules, counted in bytes as AMQP and file
systems count them, that every checker of an id applies."""

import pytest

from messages import Envelope, MessageError, PongAgent, decode, encode
from messages.ids import COMMAND_EXECUTOR_ID, PRINCIPAL, address_id_problem, id_problem, principal_id
from messages.limits import MAX_ID_BYTES


def test_an_id_of_the_byte_limit_is_accepted_one_byte_more_is_not():
    assert id_problem("task id", "t" * MAX_ID_BYTES) is None
    assert "longer than 120 bytes" in id_problem("task id", "t" * (MAX_ID_BYTES + 1))


def test_length_is_counted_in_utf8_bytes_not_characters():
    assert id_problem("task id", "é" * (MAX_ID_BYTES // 2)) is None
    assert id_problem("task id", "é" * (MAX_ID_BYTES // 2 + 1)) is not None  # 61 characters, 122 bytes
    assert id_problem("task id", "😀" * (MAX_ID_BYTES // 4 + 1)) is not None


def test_the_codec_and_the_rules_agree_on_the_longest_id():
    fits, too_long = "a" * MAX_ID_BYTES, "é" * (MAX_ID_BYTES // 2 + 1)
    assert decode(encode(Envelope(id="m", sender="agent.x", target="master", body=PongAgent(fits)))).body.agent_id
    with pytest.raises(MessageError):
        decode(encode(Envelope(id="m", sender="agent.x", target="master", body=PongAgent(too_long))))


@pytest.mark.parametrize("bad, says", [
    ("", "must not be empty"), (None, "must be text"), (7, "must be text"), (".", "not allowed"), ("..", "not allowed"),
    ("a/b", "'/'"), ("a b", "spaces"), ("a\tb", "spaces"), ("a\nb", "spaces"), ("a\x00b", "spaces"),
    ("a\u2028b", "spaces"),
])
def test_ids_that_no_mailbox_or_directory_can_hold_are_refused_with_the_reason(bad, says):
    assert says in id_problem("task id", bad)


def test_any_id_may_hold_dots_and_non_ascii_letters():
    assert id_problem("task id", "web.8a1f-2c") is None
    assert id_problem("task id", "tâche-1") is None


def test_agent_and_framework_ids_hold_no_dot_and_no_wildcard():
    assert address_id_problem("framework id", "alice-f1") is None
    assert "'.'" in address_id_problem("framework id", "a.b")
    assert "'*' or '#'" in address_id_problem("agent id", "a*")
    assert "'*' or '#'" in address_id_problem("agent id", "#")
    assert "'/'" in address_id_problem("agent id", "a/b")  # and an id's rules as well


def test_the_last_part_of_an_address_may_hold_a_dot_but_no_wildcard():
    assert address_id_problem("executor id", "web.1", last=True) is None
    assert address_id_problem("executor id", "web.#", last=True) is not None


def test_principal_prefix_is_the_principal_and_a_dash():
    assert principal_id("alice", "3f2a") == "alice-3f2a"
    assert principal_id("a.b", "3f2a") == "3f2a"  # no pattern could name its mailboxes
    assert principal_id("", "3f2a") == "3f2a"
    assert not PRINCIPAL.fullmatch("al-ice") and not PRINCIPAL.fullmatch("a" * 65)


def test_a_principals_generated_id_is_a_valid_agent_or_framework_id():
    longest = principal_id("p" * 64, "0" * 36)  # the longest principal and a uuid
    assert address_id_problem("agent id", longest) is None


def test_the_command_executor_id_is_a_valid_executor_id():
    assert address_id_problem("executor id", COMMAND_EXECUTOR_ID, last=True) is None
