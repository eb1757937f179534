"""The museum server: catalog, delivery, IIIF, OAI-PMH, admin and the ``museum`` command."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("daklak-museum")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
