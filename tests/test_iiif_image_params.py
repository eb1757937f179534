"""IIIF Image API 3.0 parameters: parsing, planning and canonical forms.

Most expected values come from the spec's own examples (https://iiif.io/api/image/3.0/,
§4.1–§4.8), which use a 300 × 200 image: region ``125,15,200,200`` returns 175 × 185 pixels,
``!225,100`` returns 150 × 100, ``^!360,360`` returns 360 × 240.
"""

from __future__ import annotations

import dataclasses
import itertools
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.errors import MuseumError
from server.iiif_image_params import (
    MEDIA_TYPES,
    IIIFNotImplemented,
    IIIFParameterError,
    ImagePlan,
    ImageRequest,
    RegionSpec,
    SizeSpec,
    parse_request,
    plan_request,
)

SPEC_W, SPEC_H = 300, 200  # the spec's example image
D = Decimal


LimitArgs = dict[str, int]
# The spec's info.json example (§5.2): 6000 × 4000 with all three limits.
SPEC_LIMITS = {"max_width": 3000, "max_height": 2000, "max_area": 4_000_000}
# Upscaling needs a maxWidth or maxArea (§5.7); this one is far above the spec's examples.
ROOMY = {"max_width": 1000}


def plan(
    region: str = "full",
    size: str = "max",
    rotation: str = "0",
    quality_format: str = "default.jpg",
    width: int = SPEC_W,
    height: int = SPEC_H,
    limits: LimitArgs | None = None,
) -> ImagePlan:
    limits = limits or {}
    return plan_request(
        parse_request(region, size, rotation, quality_format),
        width,
        height,
        max_width=limits.get("max_width"),
        max_height=limits.get("max_height"),
        max_area=limits.get("max_area"),
    )


def plan_path(
    path: str, width: int = SPEC_W, height: int = SPEC_H, limits: LimitArgs | None = None
) -> ImagePlan:
    """Plan ``region/size/rotation/quality.format``."""
    region, size, rotation, quality_format = path.split("/")
    return plan(region, size, rotation, quality_format, width, height, limits)


# Parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("full", RegionSpec("full")),
        ("square", RegionSpec("square")),
        ("125,15,120,140", RegionSpec("pixels", D(125), D(15), D(120), D(140))),
        ("0,0,1,1", RegionSpec("pixels", D(0), D(0), D(1), D(1))),
        ("007,0,10,10", RegionSpec("pixels", D(7), D(0), D(10), D(10))),
        ("pct:41.6,7.5,40,70", RegionSpec("percent", D("41.6"), D("7.5"), D(40), D(70))),
        ("pct:0,0,100,100", RegionSpec("percent", D(0), D(0), D(100), D(100))),
        # §4.7 says SHOULD for a leading 0 and no trailing zeros, so these are accepted.
        ("pct:.5,5.,0.50,100", RegionSpec("percent", D("0.5"), D(5), D("0.5"), D(100))),
    ],
)
def test_parse_region(text: str, expected: RegionSpec) -> None:
    assert parse_request(text, "max", "0", "default.jpg").region == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max", SizeSpec("max")),
        ("^max", SizeSpec("max", upscale=True)),
        ("150,", SizeSpec("width", 150)),
        ("^360,", SizeSpec("width", 360, upscale=True)),
        (",150", SizeSpec("height", None, 150)),
        ("^,240", SizeSpec("height", None, 240, upscale=True)),
        ("pct:50", SizeSpec("percent", percent=D(50))),
        ("pct:100", SizeSpec("percent", percent=D(100))),
        ("pct:16.15", SizeSpec("percent", percent=D("16.15"))),
        ("^pct:120", SizeSpec("percent", percent=D(120), upscale=True)),
        ("225,100", SizeSpec("exact", 225, 100)),
        ("^360,360", SizeSpec("exact", 360, 360, upscale=True)),
        ("!225,100", SizeSpec("confined", 225, 100)),
        ("^!360,360", SizeSpec("confined", 360, 360, upscale=True)),
    ],
)
def test_parse_size(text: str, expected: SizeSpec) -> None:
    assert parse_request("full", text, "0", "default.jpg").size == expected


@pytest.mark.parametrize(
    ("text", "degrees", "mirror"),
    [
        ("0", 0.0, False),
        ("!0", 0.0, True),
        ("90", 90.0, False),
        ("!180", 180.0, True),
        ("22.5", 22.5, False),
        ("!345", 345.0, True),
        ("360", 360.0, False),
        ("360.0", 360.0, False),
        ("0.5", 0.5, False),
        (".5", 0.5, False),
    ],
)
def test_parse_rotation(text: str, degrees: float, mirror: bool) -> None:
    request = parse_request("full", "max", text, "default.jpg")
    assert (request.rotation, request.mirror) == (degrees, mirror)


@pytest.mark.parametrize(
    ("text", "quality", "format_"),
    [
        ("default.jpg", "default", "jpg"),
        ("color.png", "color", "png"),
        ("gray.webp", "gray", "webp"),
        ("bitonal.jpg", "bitonal", "jpg"),
    ],
)
def test_parse_quality_and_format(text: str, quality: str, format_: str) -> None:
    request = parse_request("full", "max", "0", text)
    assert (request.quality, request.format) == (quality, format_)


def test_parse_request_assembles_all_four_segments() -> None:
    assert parse_request("pct:10,10,80,80", "50,", "!22.5", "color.png") == ImageRequest(
        RegionSpec("percent", D(10), D(10), D(80), D(80)),
        SizeSpec("width", 50),
        22.5,
        True,
        "color",
        "png",
    )


GOOD = {"region": "full", "size": "max", "rotation": "0", "quality_format": "default.jpg"}


@pytest.mark.parametrize(
    ("segment", "text", "parameter", "status"),
    [
        *(
            ("region", text, "region", 400)
            for text in [
                "",
                "Full",
                "full ",
                "max",
                "0,0,10",
                "0,0,10,10,10",
                "1.5,0,10,10",
                "-1,0,10,10",
                "0, 0,10,10",
                "\u0661,0,10,10",  # ARABIC-INDIC DIGIT ONE: int() would accept it
                "pct:",
                "pct:1,2,3",
                "pct:-1,0,10,10",
                "pct:+1,0,10,10",
                "pct:1e1,0,10,10",
                "pct:nan,0,10,10",
                "pct:inf,0,10,10",
                "pct:1.2.3,0,10,10",
                "pct:1_0,0,10,10",
                "PCT:0,0,10,10",
                "1" * 129,
            ]
        ),
        *(
            ("size", text, "size", 400)
            for text in [
                "",
                "full",  # Image API 2.x only
                "MAX",
                "max,",
                "^^max",
                "!max",
                ",",
                "^,",
                "!,100",
                "!100,",
                "!^100,100",
                "^!100",
                "a,b",
                "1.5,",
                "100,100,100",
                "-5,",
                "pct:",
                "pct:-5",
                "pct:1e2",
                "!pct:50",
                "pct:100.1",  # above 100 without ^ (§4.2)
                "pct:101",
                "1" * 129 + ",",
            ]
        ),
        *(
            ("rotation", text, "rotation", 400)
            for text in [
                "",
                "-1",
                "361",
                "360.0000000000000001",  # a float would round it to 360
                "abc",
                "!!90",
                "!",
                "1e2",
                "+90",
                "90 ",
                "inf",
                "nan",
                "\u0669\u0660",  # ARABIC-INDIC 90
                "0" * 129,
            ]
        ),
        *(
            ("quality_format", text, "quality", 400)
            for text in ["Default.jpg", "colour.jpg", "native.jpg", ".jpg", "grey.png"]
        ),
        *(
            ("quality_format", text, "format", 400)
            for text in [
                "default",
                "default.",
                "default.jpeg",
                "default.JPG",
                "default.bmp",
                "default.tar.gz",
                "default.jpg.png",
            ]
        ),
        *(
            ("quality_format", f"default.{fmt}", "format", 501)
            for fmt in ["tif", "gif", "jp2", "pdf"]
        ),
    ],
)
def test_parse_errors_name_the_parameter(
    segment: str, text: str, parameter: str, status: int
) -> None:
    with pytest.raises(IIIFParameterError) as caught:
        parse_request(**{**GOOD, segment: text})
    assert (caught.value.parameter, caught.value.status) == (parameter, status)
    assert isinstance(caught.value, IIIFNotImplemented) == (status == 501)


def test_parse_reports_the_first_bad_segment() -> None:
    with pytest.raises(IIIFParameterError) as caught:
        parse_request("bad", "bad", "bad", "bad.bad")
    assert caught.value.parameter == "region"
    with pytest.raises(IIIFParameterError) as caught:
        parse_request("full", "max", "bad", "bad.bad")
    assert caught.value.parameter == "rotation"


def test_errors_fit_the_museum_error_tree() -> None:
    with pytest.raises(MuseumError) as bad:
        parse_request("full", "max", "0", "sepia.jpg")
    assert (bad.value.status, bad.value.code) == (400, "invalid_iiif_parameter")
    assert "'sepia'" in str(bad.value)
    with pytest.raises(MuseumError) as unsupported:
        parse_request("full", "max", "0", "default.tif")
    assert (unsupported.value.status, unsupported.value.code) == (
        501,
        "iiif_feature_not_implemented",
    )
    assert "'tif'" in str(unsupported.value)


def test_error_messages_echo_long_values_shortened() -> None:
    with pytest.raises(IIIFParameterError) as caught:
        parse_request("9" * 1000, "max", "0", "default.jpg")
    assert "9" * 60 + "…" in str(caught.value)
    assert len(str(caught.value)) < 200


# Planning: the spec's worked examples on its 300 × 200 image


@pytest.mark.parametrize(
    ("path", "limits", "pixels", "scaled", "canonical"),
    [
        # §4.1 Region
        ("full/max/0/default.jpg", None, (0, 0, 300, 200), (300, 200),
         "full/max/0/default.jpg"),
        ("square/max/0/default.jpg", None, (50, 0, 200, 200), (200, 200),
         "50,0,200,200/max/0/default.jpg"),
        ("125,15,120,140/max/0/default.jpg", None, (125, 15, 120, 140), (120, 140),
         "125,15,120,140/max/0/default.jpg"),
        ("pct:41.6,7.5,40,70/max/0/default.jpg", None, (125, 15, 120, 140), (120, 140),
         "125,15,120,140/max/0/default.jpg"),
        ("125,15,200,200/max/0/default.jpg", None, (125, 15, 175, 185), (175, 185),
         "125,15,175,185/max/0/default.jpg"),
        ("pct:41.6,7.5,66.6,100/max/0/default.jpg", None, (125, 15, 175, 185), (175, 185),
         "125,15,175,185/max/0/default.jpg"),
        # §4.2 Size
        ("full/max/0/default.jpg", {"max_width": 200}, (0, 0, 300, 200), (200, 133),
         "full/max/0/default.jpg"),
        ("full/^max/0/default.jpg", {"max_width": 360}, (0, 0, 300, 200), (360, 240),
         "full/^max/0/default.jpg"),
        ("full/150,/0/default.jpg", None, (0, 0, 300, 200), (150, 100),
         "full/150,100/0/default.jpg"),
        ("full/^360,/0/default.jpg", ROOMY, (0, 0, 300, 200), (360, 240),
         "full/^360,240/0/default.jpg"),
        ("full/,150/0/default.jpg", None, (0, 0, 300, 200), (225, 150),
         "full/225,150/0/default.jpg"),
        ("full/^,240/0/default.jpg", ROOMY, (0, 0, 300, 200), (360, 240),
         "full/^360,240/0/default.jpg"),
        ("full/pct:50/0/default.jpg", None, (0, 0, 300, 200), (150, 100),
         "full/150,100/0/default.jpg"),
        ("full/^pct:120/0/default.jpg", ROOMY, (0, 0, 300, 200), (360, 240),
         "full/^360,240/0/default.jpg"),
        ("full/225,100/0/default.jpg", None, (0, 0, 300, 200), (225, 100),
         "full/225,100/0/default.jpg"),
        ("full/^360,360/0/default.jpg", ROOMY, (0, 0, 300, 200), (360, 360),
         "full/^360,360/0/default.jpg"),
        ("full/!225,100/0/default.jpg", None, (0, 0, 300, 200), (150, 100),
         "full/150,100/0/default.jpg"),
        ("full/^!360,360/0/default.jpg", ROOMY, (0, 0, 300, 200), (360, 240),
         "full/^360,240/0/default.jpg"),
        # §4.3 Rotation, §4.4 Quality, §4.5 Format
        ("full/max/180/default.jpg", None, (0, 0, 300, 200), (300, 200),
         "full/max/180/default.jpg"),
        ("full/max/22.5/default.png", None, (0, 0, 300, 200), (300, 200),
         "full/max/22.5/default.png"),
        ("full/max/!0/default.jpg", None, (0, 0, 300, 200), (300, 200),
         "full/max/!0/default.jpg"),
        ("full/max/!180/default.jpg", None, (0, 0, 300, 200), (300, 200),
         "full/max/!180/default.jpg"),
        ("full/max/0/color.jpg", None, (0, 0, 300, 200), (300, 200),
         "full/max/0/color.jpg"),
        ("full/max/0/gray.jpg", None, (0, 0, 300, 200), (300, 200),
         "full/max/0/gray.jpg"),
        ("full/max/0/bitonal.jpg", None, (0, 0, 300, 200), (300, 200),
         "full/max/0/bitonal.jpg"),
        # §4.6 Order of implementation
        ("125,15,120,140/90,/!345/gray.jpg", None, (125, 15, 120, 140), (90, 105),
         "125,15,120,140/90,105/!345/gray.jpg"),
        # §9 URI encoding examples
        ("0,10,100,200/pct:50/90/default.png", None, (0, 10, 100, 190), (50, 95),
         "0,10,100,190/50,95/90/default.png"),
        ("pct:10,10,80,80/50,/22.5/color.jpg", None, (30, 20, 240, 160), (50, 33),
         "30,20,240,160/50,33/22.5/color.jpg"),
    ],
)  # fmt: skip
def test_spec_examples(
    path: str,
    limits: LimitArgs | None,
    pixels: tuple[int, int, int, int],
    scaled: tuple[int, int],
    canonical: str,
) -> None:
    result = plan_path(path, limits=limits)
    assert (result.region, result.size, result.canonical) == (pixels, scaled, canonical)
    assert plan_path(result.canonical, limits=limits) == result


@pytest.mark.parametrize(
    ("region", "size"),
    [
        ("full", "max"),
        ("full", "^max"),  # no limits: nothing is larger than the region
        ("0,0,300,200", "max"),
        ("0,0,9999,9999", "max"),
        ("pct:0,0,100,100", "max"),
        ("pct:0,0,150,150", "pct:100"),
        ("full", "300,"),
        ("full", ",200"),
        ("full", "300,200"),
        ("full", "^300,200"),
        ("full", "!300,200"),
        ("full", "!300,1000"),
        ("full", "^pct:100"),
    ],
)
def test_equivalent_requests_share_one_canonical_form(region: str, size: str) -> None:
    assert plan(region, size).canonical == "full/max/0/default.jpg"


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (300, 200, (50, 0, 200, 200)),
        (200, 300, (0, 50, 200, 200)),
        (201, 300, (0, 49, 201, 201)),
        (1, 1000, (0, 499, 1, 1)),
    ],
)
def test_square_region_is_centred(
    width: int, height: int, expected: tuple[int, int, int, int]
) -> None:
    assert plan("square", width=width, height=height).region == expected


def test_square_region_of_a_square_image_is_full() -> None:
    result = plan("square", width=256, height=256)
    assert (result.region, result.canonical) == ((0, 0, 256, 256), "full/max/0/default.jpg")


@pytest.mark.parametrize(
    ("rotation", "degrees", "mirror", "canonical"),
    [
        ("0", 0.0, False, "0"),
        ("!0", 0.0, True, "!0"),
        ("90", 90.0, False, "90"),
        ("90.0", 90.0, False, "90"),
        ("007", 7.0, False, "7"),
        ("!270", 270.0, True, "!270"),
        ("22.50", 22.5, False, "22.5"),
        ("!22.5", 22.5, True, "!22.5"),
        ("0.9", 0.9, False, "0.9"),
        ("359.99", 359.99, False, "359.99"),
        ("0.0000001", 1e-7, False, "0.0000001"),  # never "1e-07"
        ("360", 0.0, False, "0"),  # a full turn is the same picture as none
        ("!360", 0.0, True, "!0"),
    ],
)
def test_rotation_and_mirroring(
    rotation: str, degrees: float, mirror: bool, canonical: str
) -> None:
    result = plan(rotation=rotation)
    assert (result.rotation, result.mirror) == (degrees, mirror)
    assert result.canonical.split("/")[2] == canonical
    assert result.size == (SPEC_W, SPEC_H)  # rotation never rescales (§4.3)


# Planning errors


@pytest.mark.parametrize(
    ("region", "size", "limits", "parameter"),
    [
        # entirely outside, or nothing left (§4.1)
        ("300,0,10,10", "max", {}, "region"),
        ("0,200,10,10", "max", {}, "region"),
        ("1000,1000,10,10", "max", {}, "region"),
        ("pct:100,0,10,10", "max", {}, "region"),
        ("pct:0,100,10,10", "max", {}, "region"),
        ("pct:99.9,0,0.1,100", "max", {}, "region"),  # starts at 299.7 → 300: outside
        ("0,0,0,10", "max", {}, "region"),
        ("0,0,10,0", "max", {}, "region"),
        ("pct:0,0,0,10", "max", {}, "region"),
        ("pct:0,0,0.1,100", "max", {}, "region"),  # 0.3 pixels wide rounds to none
        # larger than the region without ^ (§4.2)
        ("full", "301,", {}, "size"),
        ("full", ",201", {}, "size"),
        ("full", "301,200", {}, "size"),
        ("full", "300,201", {}, "size"),
        ("125,15,120,140", "121,", {}, "size"),
        ("0,0,10,10", "11,11", {}, "size"),
        # less than one pixel (§4.2)
        ("full", "0,", {}, "size"),
        ("full", ",0", {}, "size"),
        ("full", "0,0", {}, "size"),
        ("full", "!0,100", {}, "size"),
        # a best fit larger than the region is an enlargement (the validator's size_noup)
        ("full", "!1000,1000", {}, "size"),
        ("full", "!2000,3000", {"max_width": 5000}, "size"),
        ("full", "pct:0", {}, "size"),
        ("full", "pct:0.1", {}, "size"),  # 0.3 × 0.2 pixels
        ("full", "^pct:0.2", {}, "size"),  # 0.6 × 0.4: the height rounds to nothing
        ("0,0,300,1", "1,", {}, "size"),  # 1 × 0.0033
        # beyond the server's limits (§4.2, §5.2)
        ("full", "201,", {"max_width": 200}, "size"),
        ("full", ",199", {"max_width": 200}, "size"),  # 299 wide; maxHeight = maxWidth
        ("full", "^361,", {"max_width": 360}, "size"),
        ("full", "^pct:200", {"max_width": 1000, "max_height": 300}, "size"),
        ("full", "pct:100", {"max_area": 59_999}, "size"),
        ("full", "300,200", {"max_area": 59_999}, "size"),
    ],
)
def test_plan_errors_name_the_parameter(
    region: str, size: str, limits: dict[str, int], parameter: str
) -> None:
    with pytest.raises(IIIFParameterError) as caught:
        plan(region, size, limits=limits)
    assert (caught.value.parameter, caught.value.status) == (parameter, 400)


@pytest.mark.parametrize("size", ["^301,", "^,201", "^pct:101", "^300,201", "^!400,400"])
def test_upscaling_needs_a_limit(size: str) -> None:
    with pytest.raises(IIIFNotImplemented) as caught:
        plan("full", size)
    assert (caught.value.parameter, caught.value.status) == ("size", 501)
    for limits in ({"max_area": 1_000_000}, ROOMY):
        width, height = plan("full", size, limits=limits).size
        assert width > SPEC_W or height > SPEC_H


def test_limit_error_says_which_size_was_refused() -> None:
    with pytest.raises(IIIFParameterError) as caught:
        plan("full", ",199", limits={"max_width": 200})
    assert "299×199" in str(caught.value)


@pytest.mark.parametrize(
    ("width", "height", "limits"),
    [
        (0, 200, {}),
        (300, 0, {}),
        (300, 200, {"max_height": 100}),  # maxHeight needs maxWidth (§5.2)
        (300, 200, {"max_width": 0}),
        (300, 200, {"max_area": -1}),
    ],
)
def test_plan_refuses_impossible_arguments(width: int, height: int, limits: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        plan(width=width, height=height, limits=limits)


# Limits and upscaling


@pytest.mark.parametrize(
    ("width", "height", "size", "limits", "scaled", "canonical"),
    [
        (6000, 4000, "max", SPEC_LIMITS, (2449, 1632), "max"),
        (6000, 4000, "!5000,5000", SPEC_LIMITS, (2449, 1632), "max"),
        (6000, 4000, "1000,", SPEC_LIMITS, (1000, 667), "1000,667"),
        (6000, 4000, "max", {"max_area": 1_000_000}, (1224, 816), "max"),
        (6000, 4000, "^max", {"max_area": 1_000_000}, (1224, 816), "max"),
        # maxHeight defaults to maxWidth, so a tall image is bounded by its height
        (1000, 4000, "max", {"max_width": 500}, (125, 500), "max"),
        (1000, 4000, "max", {"max_width": 500, "max_height": 1000}, (250, 1000), "max"),
        # max never upscales, whatever the limits allow
        (300, 200, "max", {"max_width": 10_000}, (300, 200), "max"),
        (300, 200, "max", {"max_area": 60_000}, (300, 200), "max"),
        (300, 200, "max", {"max_area": 59_999}, (299, 199), "max"),
        # ^max grows to the limits; with none it is the region's own size
        (300, 200, "^max", {"max_width": 360}, (360, 240), "^max"),
        (300, 200, "^max", {"max_width": 300}, (300, 200), "max"),
        (600, 400, "^max", {"max_area": 4_000_000}, (2449, 1632), "^max"),
        (300, 200, "^max", {}, (300, 200), "max"),
        # !w,h is confined by the limits; past the region it needs ^
        (300, 200, "^!1000,1000", {"max_width": 500}, (500, 333), "^max"),
        (300, 200, "^!400,400", {"max_width": 500}, (400, 267), "^400,267"),
        (300, 200, "^!1000,100", {}, (150, 100), "150,100"),  # ^ allowed, not needed
        (300, 200, "^150,", {}, (150, 100), "150,100"),
    ],
)  # fmt: skip
def test_limits_and_upscaling(
    width: int,
    height: int,
    size: str,
    limits: dict[str, int],
    scaled: tuple[int, int],
    canonical: str,
) -> None:
    result = plan("full", size, width=width, height=height, limits=limits)
    assert result.size == scaled
    assert result.canonical.split("/")[1] == canonical
    assert plan_path(result.canonical, width, height, limits) == result


# Rounding: exact decimal arithmetic, halves up


@pytest.mark.parametrize(
    ("width", "height", "region", "size", "pixels", "scaled"),
    [
        # 16.15 % of 1000 is 161.5 exactly; binary floating point says 161.4999…
        (1000, 1000, "full", "pct:16.15", (0, 0, 1000, 1000), (162, 162)),
        (1000, 1000, "pct:16.15,0,10,100", "max", (162, 0, 100, 1000), (100, 1000)),
        # halves go up, not to even (Python's round(0.5) is 0)
        (1000, 10, "pct:0.05,0,10,100", "max", (1, 0, 100, 10), (100, 10)),
        (300, 201, "full", "150,", (0, 0, 300, 201), (150, 101)),  # 100.5
        (201, 300, "full", ",150", (0, 0, 201, 300), (101, 150)),  # 100.5
        (1000, 500, "full", "1,", (0, 0, 1000, 500), (1, 1)),  # 0.5
        (1000, 1499, "full", "1,", (0, 0, 1000, 1499), (1, 1)),  # 1.499
        (1000, 1500, "full", "1,", (0, 0, 1000, 1500), (1, 2)),  # 1.5
        (3, 3, "full", "pct:50", (0, 0, 3, 3), (2, 2)),  # 1.5
        (300, 200, "full", "pct:33.3333", (0, 0, 300, 200), (100, 67)),  # 99.99999, 66.66666
    ],
)
def test_rounding(
    width: int,
    height: int,
    region: str,
    size: str,
    pixels: tuple[int, int, int, int],
    scaled: tuple[int, int],
) -> None:
    result = plan(region, size, width=width, height=height)
    assert (result.region, result.size) == (pixels, scaled)


@pytest.mark.parametrize("width", [1001, 997, 300, 7, 3])
def test_adjacent_percent_regions_tile_without_gap_or_overlap(width: int) -> None:
    edges = ["0", "33.3", "66.6", "100"]
    covered = []
    for left, right in itertools.pairwise(edges):
        span = Decimal(right) - Decimal(left)
        x, _, w, _ = plan(f"pct:{left},0,{span},100", width=width, height=10).region
        covered.append((x, x + w))
    assert covered[0][0] == 0 and covered[-1][1] == width
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))


# Properties over many requests


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, int, int]:
    width = draw(st.integers(1, 5000))
    height = draw(st.integers(1, 5000))
    x, y = draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1))
    region = draw(
        st.sampled_from(
            [
                "full",
                "square",
                f"{x},{y},{draw(st.integers(1, 6000))},{draw(st.integers(1, 6000))}",
                f"pct:{x * 100 // width},{y * 100 // height},{draw(st.integers(1, 120))},50.5",
            ]
        )
    )
    w, h = draw(st.integers(1, 6000)), draw(st.integers(1, 6000))
    up = draw(st.sampled_from(["", "^"]))
    size = draw(
        st.sampled_from(
            [
                f"{up}max",
                f"{up}{w},",
                f"{up},{h}",
                f"{up}{w},{h}",
                f"{up}!{w},{h}",
                f"{up}pct:{draw(st.integers(1, 100))}",
            ]
        )
    )
    return region, size, width, height


@settings(max_examples=400, deadline=None)
@given(requests(), st.sampled_from([{}, {"max_width": 1000}, {"max_area": 500_000}]))
def test_plans_keep_their_promises(
    request: tuple[str, str, int, int], limits: dict[str, Any]
) -> None:
    region, size, width, height = request
    try:
        result = plan(region, size, width=width, height=height, limits=limits)
    except IIIFNotImplemented as exc:
        assert exc.parameter == "size" and size.startswith("^") and not limits
        return
    except IIIFParameterError as exc:
        assert exc.parameter in ("region", "size") and exc.status == 400
        return
    x, y, rw, rh = result.region
    w, h = result.size
    assert 0 <= x < x + rw <= width and 0 <= y < y + rh <= height
    assert w >= 1 and h >= 1
    if not size.startswith("^"):
        assert w <= rw and h <= rh
    assert w <= limits.get("max_width", w) and h <= limits.get("max_width", h)
    assert w * h <= limits.get("max_area", w * h)
    if size.lstrip("^").startswith(("max", "!", "pct:")):  # these keep the aspect ratio
        assert abs(w * rh - h * rw) < rw + rh
    assert plan_path(result.canonical, width, height, limits) == result


# The plan itself


def test_plan_carries_quality_format_and_media_type() -> None:
    for format_, media_type in MEDIA_TYPES.items():
        result = plan(quality_format=f"gray.{format_}")
        assert (result.quality, result.format, result.media_type) == ("gray", format_, media_type)


def test_request_and_plan_are_immutable() -> None:
    result = plan()
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.size = (1, 1)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse_request("full", "max", "0", "default.jpg").rotation = 90.0  # type: ignore[misc]
