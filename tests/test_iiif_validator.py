"""The official IIIF Image API validator, level 2, against the running server and the pipeline.

The validator (PyPI ``iiif-validator``) fetches the test image it knows over HTTP and
checks pixels, headers and errors of some thirty requests; it needs the image it was
written for, which the corpus holds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from processing.images.model import ImageOptions
from processing.images.pipeline import process
from server.app import create_app
from server.db import Database
from server.models import Asset
from server.settings import Settings
from tests.conftest import ROOT
from tests.live import serving

TEST_IMAGE = ROOT.parent / "shared" / "corpus" / "images" / "iiif"
TEST_IMAGE = TEST_IMAGE / "67352ccc-d1b0-11e1-89ae-279075081939.png"
VALIDATOR = Path(sys.executable).parent / "iiif-validate.py"
IDENTIFIER = "67352cccd1b011e189ae279075081939"  # the validator's image id, as a media id

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(
        not TEST_IMAGE.is_file(), reason=f"IIIF test image not found at {TEST_IMAGE}"
    ),
    pytest.mark.skipif(not VALIDATOR.is_file(), reason="iiif-validator is not installed"),
]


def test_the_iiif_image_validator_passes_every_level_2_test(seeded_settings: Settings) -> None:
    db = Database(seeded_settings.resolved_database_url)

    def add(session: Session) -> None:
        session.add(
            Asset(
                id=IDENTIFIER,
                sha256="0" * 64,
                size=TEST_IMAGE.stat().st_size,
                filename=TEST_IMAGE.name,
                media_type="image/png",
                kind="image",
                record_id="DL-ICH-01",
                published_version="v1",
                technical={},
            )
        )

    db.call(add, write=True)
    db.dispose()
    # Exactly what the image pipeline publishes: its tiles, info.json and pyramid.
    process(
        TEST_IMAGE, seeded_settings.data_dir / "derivatives" / IDENTIFIER / "v1", ImageOptions()
    )
    with serving(create_app(seeded_settings)) as base:
        result = subprocess.run(
            [
                str(VALIDATOR),
                "--server",
                base.removeprefix("http://"),
                "--prefix",
                "iiif/3",
                "--identifier",
                IDENTIFIER,
                "--version=3.0",
                "--level=2",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    report = result.stdout + result.stderr
    assert "Done (" in report, report
    assert " 0 failures)" in report, report
    assert result.returncode == 0, report
