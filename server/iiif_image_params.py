"""IIIF Image API 3.0 request parameters: parsing the path segments and planning the image.

Pure functions, no I/O. :func:`parse_request` checks the syntax of the region, size,
rotation and ``quality.format`` segments and returns an :class:`ImageRequest`;
:func:`plan_request` resolves it against the image's pixel dimensions and the server's
size limits into an :class:`ImagePlan`: whole pixels for the renderer, and the
canonical form of the request (spec §4.8) for ``Link: rel="canonical"``, redirects and
cache keys. Anything wrong raises :class:`IIIFParameterError` naming the parameter.

Percentages are kept as :class:`~decimal.Decimal` and worked on as exact fractions,
rounding halves up, so ``pct:16.15`` of 1000 pixels is 161.5 → 162 pixels (binary floating
point makes it 161.49999… → 161) and a request resolves to the same pixels everywhere.
Percent regions round their edges rather than origin and width, so adjacent regions
neither overlap nor leave a gap.

Spec: https://iiif.io/api/image/3.0/ (compliance level 2, with upscaling and mirroring).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from server.errors import N_, MuseumError

Parameter = Literal["region", "size", "rotation", "quality", "format"]
RegionKind = Literal["full", "square", "pixels", "percent"]
SizeKind = Literal["max", "width", "height", "percent", "exact", "confined"]

MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
QUALITIES = frozenset({"default", "color", "gray", "bitonal"})
# Formats the spec defines that this server does not produce: a valid request, not implemented.
UNIMPLEMENTED_FORMATS = frozenset({"tif", "gif", "jp2", "pdf"})
FULL_TURN = 360
PERCENT = 100
# Far longer than any sensible segment; keeps exact arithmetic on huge numbers off the table.
MAX_SEGMENT_CHARS = 128
MAX_ECHO_CHARS = 60
ZERO = Decimal(0)
HALF = Fraction(1, 2)

_INT = r"[0-9]+"  # not \d, which also matches other scripts' digits (int() accepts them)
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"  # §4.7: decimal digits and "." only
_PIXEL_REGION = re.compile(rf"({_INT}),({_INT}),({_INT}),({_INT})")
_PERCENT_REGION = re.compile(rf"pct:({_NUMBER}),({_NUMBER}),({_NUMBER}),({_NUMBER})")
_SIZE_BY_PIXELS = re.compile(rf"(\^?)(!?)({_INT})?,({_INT})?")
_SIZE_BY_PERCENT = re.compile(rf"(\^?)pct:({_NUMBER})")
_ROTATION = re.compile(rf"(!?)({_NUMBER})")

REGION_SYNTAX = N_("The region {value!r} is not valid; use full, square, x,y,w,h or pct:x,y,w,h.")
SIZE_SYNTAX = N_(
    "The size {value!r} is not valid; use max, w,, ,h, pct:n, w,h or !w,h, "
    "optionally prefixed with ^ to allow upscaling."
)
ROTATION_SYNTAX = N_(
    "The rotation {value!r} is not valid; use a number from 0 to 360, "
    "optionally prefixed with ! to mirror the image."
)
QUALITY_SYNTAX = N_("The quality {value!r} is not valid; use default, color, gray or bitonal.")
FORMAT_UNSUPPORTED = N_("The format {value!r} is not supported; use jpg, png or webp.")
FORMAT_MISSING = N_("The image request has no format; end it with .jpg, .png or .webp.")
REGION_OUTSIDE = N_("The region {value!r} lies entirely outside the image.")
REGION_TOO_SMALL = N_("The region {value!r} is less than one pixel wide or high.")
SIZE_UPSCALES = N_(
    "The size {value!r} is larger than the region; prefix it with ^ to allow upscaling."
)
SIZE_UPSCALING_OFF = N_(
    "The size {value!r} would enlarge the region, which this server does not do for this image."
)
SIZE_TOO_SMALL = N_("The size {value!r} gives an image less than one pixel wide or high.")
SIZE_OVER_LIMITS = N_(
    "The size {value!r} gives {width}×{height} pixels, more than this image allows; "
    "see maxWidth, maxHeight and maxArea in its info.json."
)


class IIIFParameterError(MuseumError):
    """A request parameter that is malformed or out of range (400); ``parameter`` names it."""

    status = 400
    code = "invalid_iiif_parameter"

    def __init__(self, parameter: Parameter, message: str, **params: Any) -> None:
        super().__init__(message, parameter=parameter, **params)


class IIIFNotImplemented(IIIFParameterError):
    """A valid request for a feature this server does not offer (501, spec §7.3)."""

    status = 501
    code = "iiif_feature_not_implemented"


@dataclass(frozen=True)
class RegionSpec:
    """The region as requested: pixels for ``pixels``, percent of the full image for ``percent``."""

    kind: RegionKind
    x: Decimal = ZERO
    y: Decimal = ZERO
    w: Decimal = ZERO
    h: Decimal = ZERO


@dataclass(frozen=True)
class SizeSpec:
    """The size as requested; ``upscale`` is the ``^`` prefix."""

    kind: SizeKind
    width: int | None = None
    height: int | None = None
    percent: Decimal | None = None
    upscale: bool = False


@dataclass(frozen=True)
class ImageRequest:
    region: RegionSpec
    size: SizeSpec
    rotation: float  # degrees clockwise, 0 ≤ rotation ≤ 360
    mirror: bool  # reflect on the vertical axis before rotating
    quality: str
    format: str


@dataclass(frozen=True)
class ImagePlan:
    """What to render: crop ``region`` (x, y, w, h) of the full image, scale it to ``size``
    (w, h), mirror if asked, rotate clockwise by ``rotation`` degrees (0 ≤ r < 360), apply
    ``quality``, encode as ``format``. ``canonical`` is ``region/size/rotation/quality.format``.
    """

    region: tuple[int, int, int, int]
    size: tuple[int, int]
    rotation: float
    mirror: bool
    quality: str
    format: str
    canonical: str

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


@dataclass(frozen=True)
class Limits:
    """The image's ``maxWidth``, ``maxHeight`` and ``maxArea``; ``None`` means no limit."""

    width: int | None = None
    height: int | None = None
    area: int | None = None

    @classmethod
    def of(cls, width: int | None, height: int | None, area: int | None) -> Limits:
        """Limits as info.json states them; a missing maxHeight is maxWidth (spec §5.2)."""
        if height is not None and width is None:
            raise ValueError("maxHeight needs maxWidth (IIIF Image API 3.0 §5.2)")
        for value in (width, height, area):
            if value is not None and value < 1:
                raise ValueError(f"size limits must be positive, got {value}")
        return cls(width, width if height is None else height, area)

    @property
    def bound_upscaling(self) -> bool:
        """Upscaling needs maxWidth or maxArea (§5.7); unbounded it would let a URL ask
        for any number of pixels."""
        return self.width is not None or self.area is not None

    def allow(self, width: int, height: int) -> bool:
        return (
            (self.width is None or width <= self.width)
            and (self.height is None or height <= self.height)
            and (self.area is None or width * height <= self.area)
        )


# Parsing


def _shown(value: str) -> str:
    return value if len(value) <= MAX_ECHO_CHARS else value[:MAX_ECHO_CHARS] + "…"


def _invalid(parameter: Parameter, message: str, value: str) -> IIIFParameterError:
    return IIIFParameterError(parameter, message, value=_shown(value))


def _checked_length(parameter: Parameter, message: str, value: str) -> None:
    if len(value) > MAX_SEGMENT_CHARS:
        raise _invalid(parameter, message, value)


def parse_region(text: str) -> RegionSpec:
    """``full``, ``square``, ``x,y,w,h`` (whole pixels) or ``pct:x,y,w,h`` (percent)."""
    _checked_length("region", REGION_SYNTAX, text)
    if text == "full":
        return RegionSpec("full")
    if text == "square":
        return RegionSpec("square")
    if match := _PIXEL_REGION.fullmatch(text):
        return RegionSpec("pixels", *(Decimal(int(group)) for group in match.groups()))
    if match := _PERCENT_REGION.fullmatch(text):
        return RegionSpec("percent", *(Decimal(group) for group in match.groups()))
    raise _invalid("region", REGION_SYNTAX, text)


def parse_size(text: str) -> SizeSpec:
    """``max``, ``w,``, ``,h``, ``pct:n``, ``w,h`` or ``!w,h``, each optionally after ``^``."""
    _checked_length("size", SIZE_SYNTAX, text)
    upscale = text.startswith("^")
    if text.removeprefix("^") == "max":
        return SizeSpec("max", upscale=upscale)
    if match := _SIZE_BY_PERCENT.fullmatch(text):
        percent = Decimal(match[2])
        if not upscale and percent > PERCENT:
            raise _invalid("size", SIZE_UPSCALES, text)
        return SizeSpec("percent", percent=percent, upscale=upscale)
    match = _SIZE_BY_PIXELS.fullmatch(text)
    if match is None or (match[3] is None and match[4] is None):
        raise _invalid("size", SIZE_SYNTAX, text)
    width = None if match[3] is None else int(match[3])
    height = None if match[4] is None else int(match[4])
    if match[2]:
        if width is None or height is None:
            raise _invalid("size", SIZE_SYNTAX, text)
        return SizeSpec("confined", width, height, upscale=upscale)
    kind: SizeKind = "height" if width is None else "width" if height is None else "exact"
    return SizeSpec(kind, width, height, upscale=upscale)


def parse_rotation(text: str) -> tuple[float, bool]:
    """``n`` or ``!n`` with 0 ≤ n ≤ 360 → (degrees, mirrored)."""
    _checked_length("rotation", ROTATION_SYNTAX, text)
    match = _ROTATION.fullmatch(text)
    # Compared as a Decimal: "360.0000000000000001" is out of range though a float says 360.0.
    if match is None or Decimal(match[2]) > FULL_TURN:
        raise _invalid("rotation", ROTATION_SYNTAX, text)
    return float(match[2]), bool(match[1])


def parse_quality_format(text: str) -> tuple[str, str]:
    """``quality.format`` → (quality, format); a spec format we do not make is a 501."""
    _checked_length("quality", QUALITY_SYNTAX, text)
    quality, dot, format_ = text.partition(".")
    if quality not in QUALITIES:
        raise _invalid("quality", QUALITY_SYNTAX, quality)
    if not dot:
        raise IIIFParameterError("format", FORMAT_MISSING)
    if format_ in UNIMPLEMENTED_FORMATS:
        raise IIIFNotImplemented("format", FORMAT_UNSUPPORTED, value=format_)
    if format_ not in MEDIA_TYPES:
        raise _invalid("format", FORMAT_UNSUPPORTED, format_)
    return quality, format_


def parse_request(region: str, size: str, rotation: str, quality_format: str) -> ImageRequest:
    """The four path segments after the identifier, checked in order; the first error wins."""
    region_spec = parse_region(region)
    size_spec = parse_size(size)
    degrees, mirror = parse_rotation(rotation)
    quality, format_ = parse_quality_format(quality_format)
    return ImageRequest(region_spec, size_spec, degrees, mirror, quality, format_)


# Planning


def _round(value: Fraction) -> int:
    """Half up, exactly: the same pixels on every platform."""
    return math.floor(value + HALF)


def _number(value: float | Decimal) -> str:
    """A number as §4.7 writes it: an integer if possible, no exponent, no trailing zeros."""
    exact = Decimal(repr(value)) if isinstance(value, float) else value
    if exact == exact.to_integral_value():
        return str(int(exact))
    return format(exact.normalize(), "f")


def resolve_region(spec: RegionSpec, width: int, height: int) -> tuple[int, int, int, int]:
    """The region in pixels (x, y, w, h), cut at the image's edges (spec §4.1)."""
    if spec.kind == "full":
        return 0, 0, width, height
    if spec.kind == "square":
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, side, side
    if spec.kind == "pixels":
        left, top = int(spec.x), int(spec.y)
        right, bottom = left + int(spec.w), top + int(spec.h)
    else:
        scale_x, scale_y = Fraction(width, PERCENT), Fraction(height, PERCENT)
        left, right = (
            _round(Fraction(spec.x) * scale_x),
            _round(Fraction(spec.x + spec.w) * scale_x),
        )
        top, bottom = (
            _round(Fraction(spec.y) * scale_y),
            _round(Fraction(spec.y + spec.h) * scale_y),
        )
    shown = _region_text(spec)
    if left >= width or top >= height:
        raise IIIFParameterError("region", REGION_OUTSIDE, value=shown)
    right, bottom = min(right, width), min(bottom, height)
    if right <= left or bottom <= top:
        raise IIIFParameterError("region", REGION_TOO_SMALL, value=shown)
    return left, top, right - left, bottom - top


def _region_text(spec: RegionSpec) -> str:
    values = ",".join(_number(v) for v in (spec.x, spec.y, spec.w, spec.h))
    return {"pixels": values, "percent": "pct:" + values}.get(spec.kind, spec.kind)


def _size_text(spec: SizeSpec) -> str:
    up = "^" if spec.upscale else ""
    if spec.kind == "max":
        return up + "max"
    if spec.kind == "percent":
        assert spec.percent is not None  # set by parse_size for this kind
        return f"{up}pct:{_number(spec.percent)}"
    bang = "!" if spec.kind == "confined" else ""
    width = "" if spec.width is None else str(spec.width)
    height = "" if spec.height is None else str(spec.height)
    return f"{up}{bang}{width},{height}"


def largest_size(
    region_w: int, region_h: int, box: tuple[int, int] | None, limits: Limits
) -> tuple[int, int]:
    """The largest size with the region's aspect ratio inside ``box`` and the limits.

    ``box=None`` means bounded by the limits alone (``^max``); with no limits either, that
    is the region's own size, since nothing defines a larger maximum.
    """
    box_w, box_h = box if box is not None else (None, None)
    widths = [b for b in (box_w, limits.width) if b is not None]
    heights = [b for b in (box_h, limits.height) if b is not None]
    scales = [Fraction(w, region_w) for w in widths] + [Fraction(h, region_h) for h in heights]
    if scales:
        scale = min(scales)
        width, height = _round(region_w * scale), _round(region_h * scale)
    elif limits.area is None:
        return region_w, region_h
    else:
        width = height = limits.area  # bounded by the area alone: the shrink below sets both
    if limits.area is not None and width * height > limits.area:
        # floor(w·s) × floor(h·s) with s = √(area / (w·h)): within the area, exactly.
        width = min(width, math.isqrt(limits.area * region_w // region_h))
        height = min(height, math.isqrt(limits.area * region_h // region_w))
    return width, height


def resolve_size(spec: SizeSpec, region_w: int, region_h: int, limits: Limits) -> tuple[int, int]:
    """The output size in pixels (spec §4.2); an impossible size raises naming ``size``."""
    if spec.kind in ("max", "confined"):
        if spec.kind == "max":
            box = None if spec.upscale else (region_w, region_h)
        else:
            assert spec.width is not None and spec.height is not None  # set by parse_size
            # The best fit inside w × h; when that is larger than the region it is an
            # enlargement and needs ^, as the reference server and the validator read §4.2.
            box = (spec.width, spec.height)
        width, height = largest_size(region_w, region_h, box, limits)
    else:
        width, height = _asked_size(spec, region_w, region_h)
    shown = _size_text(spec)
    if width < 1 or height < 1:
        raise IIIFParameterError("size", SIZE_TOO_SMALL, value=shown)
    if width > region_w or height > region_h:
        if not spec.upscale:
            raise IIIFParameterError("size", SIZE_UPSCALES, value=shown)
        if not limits.bound_upscaling:
            raise IIIFNotImplemented("size", SIZE_UPSCALING_OFF, value=shown)
    if not limits.allow(width, height):
        raise IIIFParameterError("size", SIZE_OVER_LIMITS, value=shown, width=width, height=height)
    return width, height


def _asked_size(spec: SizeSpec, region_w: int, region_h: int) -> tuple[int, int]:
    """``w,``, ``,h``, ``w,h`` and ``pct:n``: the size follows from the request and the region."""
    if spec.kind == "percent":
        assert spec.percent is not None  # set by parse_size for this kind
        scale = Fraction(spec.percent) / PERCENT
        return _round(region_w * scale), _round(region_h * scale)
    if spec.width is not None and spec.height is not None:
        return spec.width, spec.height
    if spec.width is not None:
        return spec.width, _round(Fraction(spec.width * region_h, region_w))
    assert spec.height is not None  # parse_size refuses ","
    return _round(Fraction(spec.height * region_w, region_h)), spec.height


def canonical_size(size: tuple[int, int], region_w: int, region_h: int, limits: Limits) -> str:
    """``max``, ``^max``, ``w,h`` or ``^w,h`` (spec §4.8)."""
    if size == largest_size(region_w, region_h, (region_w, region_h), limits):
        return "max"
    upscaled = size[0] > region_w or size[1] > region_h
    if upscaled and size == largest_size(region_w, region_h, None, limits):
        return "^max"
    return f"{'^' if upscaled else ''}{size[0]},{size[1]}"


def plan_request(
    request: ImageRequest,
    width: int,
    height: int,
    max_width: int | None = None,
    max_height: int | None = None,
    max_area: int | None = None,
) -> ImagePlan:
    """Resolve ``request`` against a ``width`` × ``height`` image and its info.json limits.

    A bad request raises :class:`IIIFParameterError`; bad arguments (an empty image, a
    maxHeight without maxWidth, a limit below 1) are the caller's bug and raise ValueError.
    """
    if width < 1 or height < 1:
        raise ValueError(f"an image has at least one pixel, got {width}×{height}")
    limits = Limits.of(max_width, max_height, max_area)
    region = resolve_region(request.region, width, height)
    size = resolve_size(request.size, region[2], region[3], limits)
    # 360° is the same picture as 0°: one canonical form, one cache entry.
    rotation = request.rotation % FULL_TURN
    region_text = "full" if region == (0, 0, width, height) else ",".join(map(str, region))
    rotation_text = ("!" if request.mirror else "") + _number(rotation)
    canonical = "/".join(
        (
            region_text,
            canonical_size(size, region[2], region[3], limits),
            rotation_text,
            f"{request.quality}.{request.format}",
        )
    )
    return ImagePlan(
        region, size, rotation, request.mirror, request.quality, request.format, canonical
    )
