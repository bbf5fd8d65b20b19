"""The agent reads sandbox files its tasks may have shaped: a FIFO must not hang the
agent's thread in open() (it did: the agent stopped answering, missed its pings and was
removed), and only regular files are read."""

from __future__ import annotations

import os
import threading

from actors.agent.files import SandboxFiles
from messages.operator import ListSandbox, ReadSandboxFile


def _read(root, path: str):
    out: list = []
    thread = threading.Thread(target=lambda: out.append(SandboxFiles(root).read(ReadSandboxFile(path, 0, 10))),
                              daemon=True)
    thread.start()
    thread.join(5)
    assert out, "the read did not come back (blocked in open)"
    return out[0]


def test_a_fifo_in_a_sandbox_is_refused_without_blocking(tmp_path):
    box = tmp_path / "frameworks" / "f1"
    box.mkdir(parents=True)
    os.mkfifo(box / "pipe")
    answer = _read(tmp_path, "frameworks/f1/pipe")
    assert "not a regular file" in answer.error and answer.data == b""


def test_links_inside_the_sandboxes_are_still_read(tmp_path):
    box = tmp_path / "frameworks" / "f1"
    box.mkdir(parents=True)
    (box / "stdout").write_bytes(b"hello")
    (box / "latest").symlink_to("stdout")
    answer = _read(tmp_path, "frameworks/f1/latest")
    assert (answer.error, answer.data, answer.size) == ("", b"hello", 5)
    outside = tmp_path / "secret"
    outside.write_bytes(b"no")
    (box / "out").symlink_to(outside)
    assert "leads out" in _read(tmp_path, "frameworks/f1/out").error


def test_a_link_into_another_frameworks_sandbox_is_refused(tmp_path):
    """Who may read a sandbox is decided by the framework its path names (ACL
    access_sandboxes): a task's link must not lead into another framework's files."""
    theirs = tmp_path / "frameworks" / "f2"
    theirs.mkdir(parents=True)
    (theirs / "stdout").write_bytes(b"secret")
    mine = tmp_path / "frameworks" / "f1"
    mine.mkdir(parents=True)
    (mine / "peek").symlink_to(theirs / "stdout")
    (mine / "dir").symlink_to(theirs)
    assert "leads out of its framework's sandboxes" in _read(tmp_path, "frameworks/f1/peek").error
    listing = SandboxFiles(tmp_path).list(ListSandbox("frameworks/f1/dir"))
    assert "leads out of its framework's sandboxes" in listing.error and not listing.entries
    assert _read(tmp_path, "frameworks/f2/stdout").data == b"secret"  # by its own name: the ACL decides

