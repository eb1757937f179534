"""Colour: every derivative is upright, 8-bit sRGB (or 8-bit grey), alpha kept.

Image → image functions on lazy libvips images; nothing is decoded here until
a saver pulls the pixels through.
"""

from __future__ import annotations

import io
from typing import Any

import pyvips
from PIL import ImageCms

from processing.images.model import ImageError
from processing.images.probe import SAMPLE_BITS

# Relative colorimetric keeps every in-gamut colour exactly (an archive's
# expectation) and is what most profiles implement; libvips' default too.
RENDERING_INTENT = "relative"
INTENTS = {
    "perceptual": ImageCms.Intent.PERCEPTUAL,
    "relative": ImageCms.Intent.RELATIVE_COLORIMETRIC,
}
INPUT = ImageCms.Direction.INPUT
# Embedded profiles that already are sRGB: converting them would only cost time.
SRGB_DESCRIPTIONS = ("srgb iec61966-2.1", "srgb iec61966-2-1", "srgb built-in", "srgb")
GREY = ("b-w", "grey16")
WHITE = 255
ICC_FIELD = "icc-profile-data"


def describe(image: pyvips.Image) -> dict[str, Any]:
    """Interpretation, bands, bits per sample, alpha and ICC description, for the report."""
    return {
        "interpretation": str(image.interpretation),
        "bands": image.bands,
        "bits": SAMPLE_BITS.get(str(image.format), 0),
        "alpha": bool(image.hasalpha()),
        "icc": icc_description(image),
    }


def icc_description(image: pyvips.Image) -> str | None:
    """The embedded ICC profile's description, or None when there is no (readable) profile."""
    if not image.get_typeof(ICC_FIELD):
        return None
    profile = _embedded_profile(image)
    if profile is None:
        return "unreadable profile"
    try:
        return ImageCms.getProfileDescription(profile).strip() or "unnamed profile"
    except (ImageCms.PyCMSError, ValueError):
        return "unnamed profile"


def _embedded_profile(image: pyvips.Image) -> ImageCms.ImageCmsProfile | None:
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(image.get(ICC_FIELD)))
    except (OSError, ImageCms.PyCMSError, ValueError):
        return None


def input_intent(image: pyvips.Image) -> str:
    """:data:`RENDERING_INTENT`, or perceptual when the embedded profile has only that.

    LittleCMS itself falls back this way; libvips 8.14 instead warns and leaves
    the pixels unconverted (a colour-space profile with only perceptual tables
    came out 9 levels off on average).
    """
    profile = _embedded_profile(image)
    if profile is None:
        return RENDERING_INTENT
    try:
        relative = ImageCms.isIntentSupported(profile, INTENTS[RENDERING_INTENT], INPUT) == 1
        perceptual = ImageCms.isIntentSupported(profile, INTENTS["perceptual"], INPUT) == 1
    except ImageCms.PyCMSError:
        return RENDERING_INTENT
    return "perceptual" if perceptual and not relative else RENDERING_INTENT


def orient(image: pyvips.Image, orientation: int) -> pyvips.Image:
    """Apply the EXIF orientation so row 0 is the top of the picture."""
    if orientation == 1:
        return image
    return image.autorot()


def to_srgb(image: pyvips.Image) -> tuple[pyvips.Image, list[str]]:
    """8-bit sRGB (or grey) with any alpha kept; notes on what was assumed.

    An embedded profile (or, for CMYK without one, libvips' default CMYK
    profile) is converted to sRGB with :data:`RENDERING_INTENT`. 16-bit data
    is converted at 16 bits and then scaled to 8 bits by libvips' colourspace
    (alpha included), never cast (which would clip everything above 255).
    """
    notes: list[str] = []
    description = icc_description(image)
    sixteen = image.format == "ushort"
    if description is not None and description.lower() not in SRGB_DESCRIPTIONS:
        image = _icc_to_srgb(image, sixteen, notes, f"the embedded profile {description!r}")
    elif image.interpretation == "cmyk":
        notes.append(
            "The CMYK image has no ICC profile; libvips' default CMYK profile was assumed."
        )
        image = _icc_to_srgb(image, sixteen, notes, "the default CMYK profile", fallback="cmyk")
    if image.format != "uchar" or image.interpretation not in ("srgb", "b-w"):
        image = _to_eight_bits(image)
    if image.format != "uchar" or image.bands not in (1, 2, 3, 4):
        raise ImageError(
            "unsupported_feature",
            f"The image's {image.bands} {image.format} bands ({image.interpretation}) "
            "cannot be shown as sRGB.",
        )
    return image, notes


def _icc_to_srgb(
    image: pyvips.Image, sixteen: bool, notes: list[str], what: str, fallback: str | None = None
) -> pyvips.Image:
    """Through LittleCMS; 16 bits stay 16 (libvips 8.14 mis-scales alpha when asked for 8)."""
    options: dict[str, Any] = {"intent": RENDERING_INTENT, "depth": 16 if sixteen else 8}
    if fallback is not None:
        options["input_profile"] = fallback
    else:
        options.update(embedded=True, intent=input_intent(image))
        if options["intent"] != RENDERING_INTENT:
            notes.append(
                f"{what[0].upper()}{what[1:]} has only a perceptual rendering; it was used."
            )
    try:
        converted = image.icc_transform("srgb", **options)
    except pyvips.Error:
        notes.append(f"Could not convert from {what}; the colours were taken as they are.")
        return image
    return converted


def _to_eight_bits(image: pyvips.Image) -> pyvips.Image:
    """Any interpretation and depth libvips knows → 8-bit sRGB or grey."""
    target = "b-w" if image.interpretation in GREY or image.bands in (1, 2) else "srgb"
    try:
        return image.colourspace(target)
    except pyvips.Error as exc:
        raise ImageError(
            "unsupported_feature",
            f"The image's colour space ({image.interpretation}, {image.format}) cannot be "
            "converted to sRGB.",
        ) from exc


def flatten(image: pyvips.Image) -> pyvips.Image:
    """Alpha composited on white, for JPEG (which has no alpha)."""
    if not image.hasalpha():
        return image
    return image.flatten(background=[WHITE] * (image.bands - 1))
