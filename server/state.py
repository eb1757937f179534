"""The per-app state handlers reach through ``request.app.state.museum``."""

from __future__ import annotations

from dataclasses import dataclass
from gettext import NullTranslations

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from server.db import Database
from server.jobs import JobService
from server.queue import Queue
from server.settings import Settings
from server.storage import Store


@dataclass
class Museum:
    """Everything a request handler may need, built once per app."""

    settings: Settings
    db: Database
    store: Store
    queue: Queue
    jobs: JobService
    catalogs: dict[str, NullTranslations]
    templates: Jinja2Templates
    viewer_assets: dict[str, str]

    def translations(self, lang: str) -> NullTranslations:
        return self.catalogs.get(lang, self.catalogs["en"])


def get_museum(request: Request) -> Museum:
    museum: Museum = request.app.state.museum
    return museum
