"""A small museum for the backup and fixity tests: the seed catalog, a dozen generated
originals of 4–24 KiB (about 170 KiB in all), a published derivative version for some of
them, and the generated signing key."""

from __future__ import annotations

import atexit
import io
import random
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from server.app import ensure_secret_key
from server.catalog import import_catalog_file
from server.db import Database
from server.migrate import upgrade
from server.models import Asset, Record
from server.settings import Settings
from server.storage import Store
from tests.conftest import SEED_CATALOG

ORIGINALS = 12
SIZES = (4 * 1024, 24 * 1024)  # bytes, each original's size is drawn between these


@dataclass
class World:
    settings: Settings
    db: Database
    store: Store
    assets: dict[str, str] = field(default_factory=dict)  # asset id -> sha256

    def close(self) -> None:
        self.db.dispose()


def random_bytes(rng: random.Random, size: int | None = None) -> bytes:
    return rng.randbytes(size if size is not None else rng.randint(*SIZES))


def add_original(world: World, data: bytes, record_id: str | None = None) -> tuple[str, str]:
    """Store ``data`` and register it as an asset, as ``museum ingest`` does; (id, sha256)."""
    stored = world.store.ingest(io.BytesIO(data))
    asset_id = uuid.uuid4().hex

    def register(session) -> None:  # type: ignore[no-untyped-def]
        session.add(
            Asset(
                id=asset_id,
                sha256=stored.sha256,
                size=stored.size,
                filename=f"{asset_id}.bin",
                media_type="application/octet-stream",
                kind="other",
                record_id=record_id,
            )
        )

    world.db.call(register, write=True)
    world.assets[asset_id] = stored.sha256
    return asset_id, stored.sha256


def publish_derivative(world: World, asset_id: str, rng: random.Random) -> list[str]:
    """A derivative version ``v1`` with two files; their paths under derivatives/."""
    with world.store.publish(asset_id, "v1") as folder:
        (folder / "tiles").mkdir()
        (folder / "tiles" / "0_0.jpg").write_bytes(random_bytes(rng, 3000))
        (folder / "info.json").write_text('{"width": 10}', encoding="utf-8")
    return [f"{asset_id}/v1/info.json", f"{asset_id}/v1/tiles/0_0.jpg"]


# One SQLite museum built per test session and copied for each test (migrating and importing
# the seed catalog takes longer than the tests themselves).
_TEMPLATE: dict[str, tuple[Path, dict[str, str]]] = {}


def build_world(settings: Settings) -> World:
    """The small museum in ``settings``' (new) data directory, on either engine."""
    if settings.database_url:
        return _build(settings)
    if "sqlite" not in _TEMPLATE:
        root = Path(tempfile.mkdtemp(prefix="museum-backup-world-"))
        atexit.register(shutil.rmtree, root, True)
        template = _build(Settings(data_dir=root / "data"))
        template.close()
        _TEMPLATE["sqlite"] = (root / "data", dict(template.assets))
    source, assets = _TEMPLATE["sqlite"]
    shutil.copytree(source, settings.data_dir, symlinks=True)
    db = Database(settings.resolved_database_url)
    return World(settings, db, Store(settings.data_dir), dict(assets))


def _build(settings: Settings, seed: int = 7, originals: int = ORIGINALS) -> World:
    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    store = Store(settings.data_dir)
    store.ensure()
    world = World(settings, db, store)
    rng = random.Random(seed)
    record_ids = db.call(lambda s: list(s.scalars(select(Record.id).order_by(Record.id))))
    for number in range(originals):
        asset_id, _ = add_original(world, random_bytes(rng), record_ids[number % len(record_ids)])
        if number % 3 == 0:
            publish_derivative(world, asset_id, rng)
    ensure_secret_key(settings)
    return world
