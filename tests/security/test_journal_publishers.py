"""Journal copies from a principal that may not write them: a framework principal (made by
`mesobus auth` on a private vhost) may publish to the routing key `journal` (every process
copies what it sends there), but what it writes there in the master's or another
principal's name is left out by readers of the stream; its own records are kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pika
import pytest

from messages import Envelope, PublishedBatch, encode
from messages.framework import Revive
from actors.journal.file import FileJournal, read_journal_file
from rabbitmq.journal import StreamToFile, enable_stream, read_stream
from tests.support.cluster_framework import ROOT
from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker


def _envelope(i: int, sender: str, target: str = "master") -> Envelope:
    return Envelope(id=f"forged-{i}", sender=sender, target=target, body=Revive(framework_id="x"), sent_at=time.time())


@pytest.fixture
def framework_principal(tmp_path):
    """(guest's URL of a private vhost, a framework principal made there by `mesobus auth`, its URL)."""
    fw = f"jf_{os.urandom(3).hex()}"
    pw = tmp_path / "pw"
    pw.write_text("journal-secret\n")
    with private_vhost("mesobus-journal") as guest_url:
        vhost = guest_url.rsplit("/", 1)[1]
        try:
            done = subprocess.run([sys.executable, "-m", "actors.cli.main", "auth", "add-framework", fw, "--vhost",
                                   vhost, "--password-file", str(pw)], capture_output=True, text=True, timeout=120,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
            assert done.returncode == 0, done.stderr
            yield guest_url, fw, f"amqp://{fw}:journal-secret@127.0.0.1:5672/{vhost}"
        finally:
            subprocess.run(["rabbitmqctl", "-q", "delete_user", fw], capture_output=True, timeout=60)


def _publish_forgeries(url: str, fw: str) -> None:
    """A batch of copies (three in others' names, one its own) and an actor's record claiming the master."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        forged = [_envelope(1, "master", f"framework.{fw}-f1"), _envelope(2, "allocator"),
                  _envelope(3, "framework.someone_else-f9"), _envelope(4, f"framework.{fw}-f1")]
        batch = Envelope(id="batch-1", sender="transport", target="journal",
                         body=PublishedBatch(tuple(encode(e) for e in forged), user="mesos_master"), sent_at=time.time())
        channel.basic_publish("mesobus", "journal", encode(batch), pika.BasicProperties(delivery_mode=2, user_id=fw))
        channel.basic_publish("mesobus", "journal", encode(_envelope(5, "master")),
                              pika.BasicProperties(delivery_mode=2, user_id=fw))
        own = Envelope(id="own-6", sender=f"framework.{fw}-f1", target="journal",
                       body=PublishedBatch((encode(_envelope(6, f"framework.{fw}-f1")),), user=fw), sent_at=time.time())
        channel.basic_publish("mesobus", "journal", encode(own), pika.BasicProperties(delivery_mode=2, user_id=fw))
    finally:
        connection.close()


def test_journal_records_written_in_another_principals_name_are_left_out(framework_principal):
    guest_url, fw, fw_url = framework_principal
    enable_stream(guest_url)
    _publish_forgeries(fw_url, fw)
    warnings: list[str] = []
    read = [e.id for e in read_stream(guest_url, idle=2.0, warn=warnings.append, master_principal="mesos_master")]
    assert read == ["forged-4", "forged-6"], warnings
    assert any(f"published by '{fw}', who may not write as 'master'" in w for w in warnings), warnings
    # what the master's principal published is believed whole
    as_master = [e.id for e in read_stream(guest_url, idle=2.0, master_principal=fw)]
    assert as_master == ["forged-1", "forged-2", "forged-3", "forged-4", "forged-5", "forged-6"]


def test_the_masters_journal_file_feed_leaves_out_records_in_another_principals_name(framework_principal, tmp_path):
    guest_url, fw, fw_url = framework_principal
    journal = FileJournal(str(tmp_path / "journal.msgpack"), flush_seconds=0.1)
    feed = StreamToFile(guest_url, journal).start()  # the master's feed: guest is its principal here
    try:
        _publish_forgeries(fw_url, fw)
        deadline = time.monotonic() + 20
        while journal.records < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # the forged records came first: anything kept would be there by now
    finally:
        feed.stop()
        journal.close()
    assert [e.id for e in read_journal_file(str(tmp_path / "journal.msgpack"))] == ["forged-6"]
