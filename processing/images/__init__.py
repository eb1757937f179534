"""Images and documents → IIIF level-0 tiles, a pyramidal TIFF, thumbnails and ``report.json``.

Modules: :mod:`~processing.images.model` (options, limits, the error),
:mod:`~processing.images.probe` (format and limits from the header, the loader
allow-list), :mod:`~processing.images.color` (orientation, ICC → sRGB, 8-bit),
:mod:`~processing.images.metadata` (EXIF/IPTC/XMP; rights kept on public files),
:mod:`~processing.images.watermark`, :mod:`~processing.images.pyramid` (tiles,
TIFF, thumbnails, DeepZoom and the tile geometry) and
:mod:`~processing.images.pipeline` (:func:`process`, :func:`run_job`).
"""

from processing.images.model import ImageError, ImageLimits, ImageOptions

__all__ = ["ImageError", "ImageLimits", "ImageOptions"]
