from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.errors import IntegrityFailure, ValidationError
from server.storage import Store, resolve_inside


def test_original_is_stored_once_by_sha256_and_read_only(tmp_path: Path) -> None:
    store = Store(tmp_path)
    data = b"gong " * 100_000
    digest = hashlib.sha256(data).hexdigest()
    first = store.ingest(io.BytesIO(data))
    second = store.ingest(io.BytesIO(data))
    assert first.sha256 == second.sha256 == digest
    assert (first.created, second.created) == (True, False)
    assert first.path == tmp_path / "originals" / digest[:2] / digest[2:4] / digest
    assert first.path.read_bytes() == data
    assert not first.path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert list((tmp_path / "tmp").iterdir()) == []
    assert store.verify(digest)


def test_expected_digest_mismatch_stores_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(IntegrityFailure):
        store.ingest(io.BytesIO(b"scan"), expected_sha256="0" * 64)
    assert list((tmp_path / "originals").rglob("*")) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_size_limit_is_enforced_while_streaming(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(ValidationError):
        store.ingest(io.BytesIO(b"x" * 5000), max_size=4096)
    assert list((tmp_path / "originals").rglob("*")) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_damaged_original_is_detected_not_papered_over(tmp_path: Path) -> None:
    store = Store(tmp_path)
    stored = store.ingest(io.BytesIO(b"original bytes"))
    stored.path.chmod(0o644)
    stored.path.write_bytes(b"bit rot!")
    assert not store.verify(stored.sha256)
    with pytest.raises(IntegrityFailure):
        store.ingest(io.BytesIO(b"original bytes"))


def test_publish_is_all_or_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(RuntimeError), store.publish("asset1", "v1") as folder:
        (folder / "half.bin").write_bytes(b"partial")
        raise RuntimeError("killed mid-write")
    assert not (tmp_path / "derivatives" / "asset1" / "v1").exists()
    with store.publish("asset1", "v1") as folder:
        (folder / "tiles").mkdir()
        (folder / "tiles" / "0.jpg").write_bytes(b"tile")
    assert (tmp_path / "derivatives" / "asset1" / "v1" / "tiles" / "0.jpg").read_bytes() == b"tile"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_published_versions_are_immutable(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.publish("asset1", "v1") as folder:
        (folder / "a.txt").write_text("first")
    with store.publish("asset1", "v1") as folder:
        (folder / "a.txt").write_text("second")
    assert (tmp_path / "derivatives" / "asset1" / "v1" / "a.txt").read_text() == "first"


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "x" * 200, "a\x00b"])
def test_derivative_names_are_checked(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValidationError):
        Store(tmp_path).derivative_dir(bad, "v1")


@pytest.mark.parametrize(
    "relative",
    ["../etc/passwd", "/etc/passwd", "a/../../x", "..", ".", "a/\x00", "\\x", "a/../../../tmp"],
)
def test_resolve_inside_refuses_escapes(tmp_path: Path, relative: str) -> None:
    assert resolve_inside(tmp_path, relative) is None


def test_resolve_inside_refuses_symlinks_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret").write_text("canary")
    os.symlink(tmp_path / "secret", root / "link")
    assert resolve_inside(root, "link") is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_resolve_inside_never_leaves_the_root(relative: str) -> None:
    root = Path("/srv/museum-test-root")
    resolved = resolve_inside(root, relative)
    assert resolved is None or root in resolved.parents
