"""Addresses (messages/addresses.py) and a guard: no module outside it spells one by hand."""

import re
from pathlib import Path

from messages.addresses import (
    ALLOCATOR, DEAD_LETTERS, JOURNAL, MASTER, REGISTRY, agent_address, agents_group, executor_address,
    executor_address_problem, framework_address, frameworks_group, group_address, is_group, reply_address,
)
from messages.ids import COMMAND_EXECUTOR_ID
from messages.limits import MAILBOX_PREFIX, MAX_ADDRESS_BYTES, MAX_ID_BYTES, MAX_MAILBOX_ADDRESS_BYTES
from rabbitmq import topology

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [p for package in ("actors", "messages", "rabbitmq") for p in (ROOT / package).rglob("*.py")]
# A string literal that starts an address by hand: "agent.", f"framework.{...}", 'executor.x', "reply."...
HAND_BUILT = re.compile(r"""\bf?["'](agent|framework|executor|reply|group)\.(\{|["']|[A-Za-z0-9_-]+\.)""")
HAND_BUILT_GROUP = re.compile(r"""\.(agents|frameworks)["']""")


def test_each_actor_has_one_spelling():
    assert (MASTER, ALLOCATOR, DEAD_LETTERS, JOURNAL, REGISTRY) == ("master", "allocator", "dead", "journal", "registry")
    assert agent_address("a1") == "agent.a1"
    assert framework_address("alice-f1") == "framework.alice-f1"
    assert executor_address("a1", "f1", COMMAND_EXECUTOR_ID) == "executor.a1.f1.mesobus-command"
    assert reply_address("ab12") == "reply.ab12"


def test_groups_are_broadcasts_of_a_master():
    assert agents_group("master") == "group.master.agents"
    assert frameworks_group("m2") == "group.m2.frameworks"
    assert is_group(group_address("x")) and not is_group(agent_address("group"))


def test_agent_and_framework_addresses_of_the_longest_ids_are_routing_keys():
    assert len(framework_address("f" * MAX_ID_BYTES).encode()) <= MAX_ADDRESS_BYTES
    assert len(agent_address("a" * MAX_ID_BYTES).encode()) <= MAX_ADDRESS_BYTES


def test_an_executor_address_is_bounded_by_its_queue_name_in_bytes():
    assert (topology.PREFIX, topology._MAX_ADDRESS) == (MAILBOX_PREFIX, MAX_MAILBOX_ADDRESS_BYTES)  # one bound
    fits = executor_address("a" * 100, "f" * 100, "e" * (MAX_MAILBOX_ADDRESS_BYTES - len("executor...") - 200))
    assert len(fits.encode()) == MAX_MAILBOX_ADDRESS_BYTES
    assert executor_address_problem("a" * 100, "f" * 100, fits.rsplit(".", 1)[1]) is None
    assert "248 bytes" in executor_address_problem("a" * 100, "f" * 100, fits.rsplit(".", 1)[1] + "e")
    # bytes, not characters: 60 two-byte characters are 120 bytes, 20 more than 100 "f"s
    assert "267 bytes" in executor_address_problem("a" * 100, "é" * 60, fits.rsplit(".", 1)[1])
    topology.check_address(fits)  # what the transport would declare as a queue


def test_no_module_builds_an_address_by_hand():
    """Every address comes from messages/addresses.py (docstrings and comments aside:
    only code is read, by the tokenizer, so examples in them do not count)."""
    import io
    import tokenize

    found = []
    for path in SOURCES:
        if path.name == "addresses.py" and path.parent.name == "messages":
            continue
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
        previous = None
        for tok in tokens:
            is_docstring = tok.type == tokenize.STRING and previous in (None, tokenize.INDENT, tokenize.NEWLINE)
            if tok.type in (tokenize.STRING, getattr(tokenize, "FSTRING_START", -1)) and not is_docstring:
                line = tok.line.strip()
                if HAND_BUILT.search(line) or HAND_BUILT_GROUP.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{tok.start[0]}: {line}")
            if tok.type not in (tokenize.NL, tokenize.COMMENT):
                previous = tok.type
    assert not sorted(set(found)), "addresses built by hand (use messages/addresses.py):\n" + "\n".join(sorted(set(found)))
