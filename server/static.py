"""Static files whose URLs name immutable content (hashed bundles, versioned derivatives)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

IMMUTABLE = "public, max-age=31536000, immutable"


class ImmutableStaticFiles(StaticFiles):
    """StaticFiles that tolerates a missing folder and marks files cacheable forever."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        super().__init__(directory=directory, check_dir=False)

    def file_response(
        self, full_path: Any, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["cache-control"] = IMMUTABLE
        return response

    async def check_config(self) -> None:
        # A folder that does not exist yet (viewer not built, nothing published)
        # is an empty folder, not a server misconfiguration.
        if self.directory is not None and Path(self.directory).is_dir():
            await super().check_config()

    async def get_response(self, path: str, scope: Scope) -> Response:
        if self.directory is None or not Path(self.directory).is_dir():
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)
