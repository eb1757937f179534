"""``python -m processing.images.native [--force]``: build libtilejpeg.so now."""

import logging
import sys

from processing.images.native import build

logging.basicConfig(level=logging.INFO, format="%(message)s")
built = build(force="--force" in sys.argv)
print(built if built is not None else "libtilejpeg.so not built", file=sys.stderr)
sys.exit(0 if built is not None else 1)
