"""The fetcher on its own: what lands in the sandbox from file://, absolute paths and
http://, and what is refused (paths and links out of the sandbox, device files, too
large, too slow, bad archives)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from actors.fetcher import FetcherConfig, FetchError, fetch_uri, fetch_uris, start_fetcher
from messages import CommandURI
from tests.support.file_server import FileServer

CONFIG = FetcherConfig(max_size=1024 * 1024, timeout=5)


@pytest.fixture
def src(tmp_path) -> Path:
    path = tmp_path / "src"
    path.mkdir()
    return path


@pytest.fixture
def box(tmp_path) -> Path:
    path = tmp_path / "sandbox"
    path.mkdir()
    return path


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz" if path.name.endswith("gz") else "w") as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def regular(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, b""


def outside_of(box: Path) -> list[Path]:
    """Files that appeared next to the sandbox (what an escape would leave)."""
    return [p for p in box.parent.iterdir() if p.name not in ("src", "sandbox")]


# --- sources ------------------------------------------------------------------------------


def test_file_uri_and_absolute_path_are_copied_into_the_sandbox(src, box):
    (src / "a.txt").write_text("from a file uri")
    (src / "b.txt").write_text("from a path")
    fetch_uris([CommandURI(f"file://{src}/a.txt"), CommandURI(str(src / "b.txt"))], box, CONFIG)
    assert (box / "a.txt").read_text() == "from a file uri"
    assert (box / "b.txt").read_text() == "from a path"


def test_output_file_names_the_fetched_file_and_executable_sets_its_mode(src, box):
    (src / "tool").write_text("#!/bin/sh\necho hi\n")
    fetch_uri(CommandURI(str(src / "tool"), executable=True, output_file="bin/run"), box, CONFIG)
    assert (box / "bin" / "run").read_text().endswith("echo hi\n")
    assert stat.S_IMODE((box / "bin" / "run").stat().st_mode) == 0o755


def test_http_download_lands_in_the_sandbox(src, box):
    (src / "page.html").write_text("<p>hello</p>")
    with FileServer(src) as server:
        fetch_uri(CommandURI(server.url("page.html")), box, CONFIG)
        fetch_uri(CommandURI(server.url("nolength/page.html"), output_file="again.html"), box, CONFIG)
    assert (box / "page.html").read_text() == "<p>hello</p>"
    assert (box / "again.html").read_text() == "<p>hello</p>"


def test_http_error_names_the_uri_and_the_status(src, box):
    with FileServer(src) as server:
        url = server.url("missing.tgz")
        with pytest.raises(FetchError) as err:
            fetch_uris([CommandURI(url)], box, CONFIG)
    assert str(err.value) == f"cannot fetch {url!r}: HTTP 404 File not found"


def test_unsupported_scheme_and_missing_file_are_refused(box):
    with pytest.raises(FetchError, match="unsupported scheme 'hdfs'"):
        fetch_uri(CommandURI("hdfs://nn/x.jar"), box, CONFIG)
    with pytest.raises(FetchError, match="No such file"):
        fetch_uri(CommandURI("/no/such/file"), box, CONFIG)


def test_a_directory_or_device_is_not_a_file_to_fetch(src, box):
    with pytest.raises(FetchError, match="not a regular file"):
        fetch_uri(CommandURI(str(src), output_file="x"), box, CONFIG)
    with pytest.raises(FetchError, match="not a regular file"):
        fetch_uri(CommandURI("/dev/zero"), box, CONFIG)


# --- bounds -------------------------------------------------------------------------------


def test_a_file_over_the_size_bound_is_refused_and_nothing_is_left(src, box):
    (src / "big.bin").write_bytes(b"\0" * 2048)
    small = FetcherConfig(max_size=1024, timeout=5)
    with pytest.raises(FetchError, match="more than the fetcher's limit of 1024 bytes"):
        fetch_uri(CommandURI(str(src / "big.bin")), box, small)
    with FileServer(src) as server:  # told by Content-Length, and counted when there is none
        with pytest.raises(FetchError, match="2048 bytes, more than the fetcher's limit of 1024"):
            fetch_uri(CommandURI(server.url("big.bin")), box, small)
        with pytest.raises(FetchError, match="more than the fetcher's limit of 1024 bytes"):
            fetch_uri(CommandURI(server.url("nolength/big.bin")), box, small)
    assert list(box.iterdir()) == []


def test_a_server_that_does_not_answer_in_time_times_out(src, box):
    (src / "a.txt").write_text("late")
    quick = FetcherConfig(timeout=0.5)
    with FileServer(src) as server:
        began = time.monotonic()
        with pytest.raises(FetchError, match="timed out after 0.5 s"):
            fetch_uri(CommandURI(server.url("slow/a.txt")), box, quick)
        with pytest.raises(FetchError, match="timed out after 0.5 s"):
            fetch_uri(CommandURI(server.url("drip/a.txt")), box, quick)
    assert time.monotonic() - began < 4


def test_an_archive_that_unpacks_beyond_the_bound_is_refused(src, box):
    make_tar(src / "bomb.tar.gz", [regular("a", b"\0" * 600), regular("b", b"\0" * 600)])
    with pytest.raises(FetchError, match="unpacks to more than the fetcher's limit of 1100 bytes"):
        fetch_uri(CommandURI(str(src / "bomb.tar.gz")), box, FetcherConfig(max_size=1100))
    assert not (box / "a").exists()


# --- extraction ---------------------------------------------------------------------------


def test_tar_gz_and_zip_are_extracted_into_the_sandbox(src, box):
    make_tar(src / "site.tar.gz", [regular("site/index.html", b"<h1>hi</h1>")])
    with zipfile.ZipFile(src / "app.zip", "w") as zf:
        info = zipfile.ZipInfo("app/run.sh")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        zf.writestr(info, "echo run")
    fetch_uris([CommandURI(str(src / "site.tar.gz")), CommandURI(str(src / "app.zip"))], box, CONFIG)
    assert (box / "site" / "index.html").read_text() == "<h1>hi</h1>"
    assert (box / "app" / "run.sh").read_text() == "echo run"
    assert os.access(box / "app" / "run.sh", os.X_OK)
    assert (box / "site.tar.gz").exists()  # kept, as Mesos does


def test_extract_false_and_executable_leave_the_archive_packed(src, box):
    make_tar(src / "a.tgz", [regular("inside")])
    fetch_uri(CommandURI(str(src / "a.tgz"), extract=False), box, CONFIG)
    assert not (box / "inside").exists()


@pytest.mark.parametrize("member", ["../escaped", "a/../../escaped"])
def test_tar_member_climbing_out_is_refused(src, box, member):
    make_tar(src / "evil.tar", [regular(member)])
    with pytest.raises(FetchError, match="unsafe archive"):
        fetch_uri(CommandURI(str(src / "evil.tar")), box, CONFIG)
    assert outside_of(box) == []


def test_tar_absolute_member_lands_inside_the_sandbox(src, box):
    make_tar(src / "abs.tar", [regular("/tmp/mesobus-fetcher-abs-test")])
    fetch_uri(CommandURI(str(src / "abs.tar")), box, CONFIG)
    assert (box / "tmp" / "mesobus-fetcher-abs-test").exists()
    assert not Path("/tmp/mesobus-fetcher-abs-test").exists()


@pytest.mark.parametrize("target", ["/etc/passwd", "../../outside"])
@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_tar_links_out_of_the_sandbox_are_refused(src, box, target, kind):
    make_tar(src / "links.tar", [link("l", target, kind)])
    with pytest.raises(FetchError, match="unsafe archive"):
        fetch_uri(CommandURI(str(src / "links.tar")), box, CONFIG)
    assert not (box / "l").is_symlink() and not (box / "l").exists()


def test_tar_symlink_then_file_through_it_cannot_write_outside(src, box):
    make_tar(src / "two.tar", [link("d", ".."), regular("d/escaped")])
    with pytest.raises(FetchError, match="unsafe archive"):
        fetch_uri(CommandURI(str(src / "two.tar")), box, CONFIG)
    assert outside_of(box) == []


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_tar_device_files_and_fifos_are_refused(src, box, kind):
    info = tarfile.TarInfo("dev")
    info.type, info.devmajor, info.devminor = kind, 1, 3
    make_tar(src / "dev.tar", [(info, b"")])
    with pytest.raises(FetchError, match="unsafe archive"):
        fetch_uri(CommandURI(str(src / "dev.tar")), box, CONFIG)
    assert not (box / "dev").exists()


@pytest.mark.parametrize("member", ["../escaped", "/abs/escaped"])
def test_zip_member_out_of_the_sandbox_is_refused(src, box, member):
    with zipfile.ZipFile(src / "evil.zip", "w") as zf:
        zf.writestr(member, "x")
    with pytest.raises(FetchError, match="would land outside the sandbox"):
        fetch_uri(CommandURI(str(src / "evil.zip")), box, CONFIG)
    assert outside_of(box) == [] and not Path("/abs/escaped").exists()


def test_zip_symlink_is_refused(src, box):
    with zipfile.ZipFile(src / "link.zip", "w") as zf:
        info = zipfile.ZipInfo("l")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(FetchError, match="is a symlink"):
        fetch_uri(CommandURI(str(src / "link.zip")), box, CONFIG)


@pytest.mark.parametrize("name", ["bad.tar.gz", "bad.zip", "bad.tgz", "bad.gz"])
def test_a_bad_archive_fails_with_a_clear_error(src, box, name):
    (src / name).write_bytes(b"this is not an archive at all" * 10)
    with pytest.raises(FetchError, match=f"cannot extract {name}"):
        fetch_uris([CommandURI(str(src / name))], box, CONFIG)


def test_output_file_out_of_the_sandbox_is_refused(src, box):
    (src / "a").write_text("x")
    for name in ("../a", "/etc/a", "x/../../a"):
        with pytest.raises(FetchError, match="relative path inside the sandbox"):
            fetch_uri(CommandURI(str(src / "a"), output_file=name), box, CONFIG)
    os.symlink("/tmp", box / "out")
    with pytest.raises(FetchError, match="outside the sandbox"):
        fetch_uri(CommandURI(str(src / "a"), output_file="out/a"), box, CONFIG)
    assert outside_of(box) == []


# --- cache --------------------------------------------------------------------------------


def test_cached_uri_is_served_from_the_cache_the_second_time(src, box, tmp_path):
    config = FetcherConfig(cache_dir=tmp_path / "cache", cache_size=1024)
    (src / "a.txt").write_text("first")
    fetch_uri(CommandURI(str(src / "a.txt"), cache=True), box, config)
    (src / "a.txt").unlink()
    again = tmp_path / "sandbox2"
    again.mkdir()
    fetch_uri(CommandURI(str(src / "a.txt"), cache=True), again, config)
    assert (again / "a.txt").read_text() == "first"


def test_the_cache_keeps_at_most_its_size_least_recently_used_first(src, box, tmp_path):
    config = FetcherConfig(cache_dir=tmp_path / "cache", cache_size=250)
    for name in ("a", "b", "c"):
        (src / name).write_bytes(name.encode() * 100)
        fetch_uri(CommandURI(str(src / name), cache=True), box, config)
        time.sleep(0.01)
    cached = [p for d in (tmp_path / "cache").iterdir() for p in d.iterdir()]
    assert sum(p.stat().st_size for p in cached) <= 250
    assert sorted(p.read_bytes()[:1] for p in cached) == [b"b", b"c"]
    (src / "huge").write_bytes(b"h" * 300)  # larger than the whole cache: fetched, not kept
    fetch_uri(CommandURI(str(src / "huge"), cache=True), box, config)
    assert (box / "huge").stat().st_size == 300


# --- the fetcher process ------------------------------------------------------------------


def test_the_fetcher_process_reports_success_and_logs_to_the_tasks_stderr(src, box):
    (src / "a.txt").write_text("x")
    done, reasons = threading.Event(), []
    start_fetcher([CommandURI(str(src / "a.txt"))], box, CONFIG, None, box / "stderr",
                  lambda r: (reasons.append(r), done.set()))
    assert done.wait(30) and reasons == [""]
    assert (box / "a.txt").exists()
    assert "mesobus-fetcher: fetching" in (box / "stderr").read_text()


def test_a_killed_fetcher_reports_that_it_was_stopped(src, box):
    done, reasons = threading.Event(), []
    with FileServer(src) as server:
        (src / "a").write_text("x")
        run = start_fetcher([CommandURI(server.url("drip/a"))], box, FetcherConfig(timeout=30), None,
                            box / "stderr", lambda r: (reasons.append(r), done.set()))
        time.sleep(0.5)
        run.kill()
        assert done.wait(10)
    assert reasons == ["the fetcher was stopped"]
