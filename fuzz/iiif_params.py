"""IIIF Image API parameters (server/iiif_image_params.py): parse, plan, canonical form.

Input: an optional first line ``WxH [maxWidth,maxHeight,maxArea]`` (the image and its
info.json limits; 1000x800 without limits otherwise), then
``region/size/rotation/quality.format`` as the router hands the segments over.
Contract: :class:`IIIFParameterError` or a plan whose pixels lie inside the image, whose
size is at least 1×1 and within the limits, and whose canonical form plans to itself.
"""

from __future__ import annotations

import re
import sys

import atheris

with atheris.instrument_imports(include=["server.iiif_image_params"]):
    from server.iiif_image_params import (
        IIIFParameterError,
        Limits,
        parse_request,
        plan_request,
    )

_HEADER = re.compile(r"([0-9]{1,6})x([0-9]{1,6})(?: ([0-9]{0,6}),([0-9]{0,6}),([0-9]{0,9}))?")


def _image(line: str) -> tuple[int, int, int | None, int | None, int | None] | None:
    match = _HEADER.fullmatch(line)
    if not match:
        return None
    width, height = max(1, int(match[1])), max(1, int(match[2]))
    limits = [int(v) if v else None for v in match.groups()[2:]]
    max_width, max_height, max_area = (v if v else None for v in limits)
    if max_height is not None and max_width is None:
        max_height = None
    return width, height, max_width, max_height, max_area


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    first, _, rest = text.partition("\n")
    image = _image(first)
    if image is None:
        image, rest = (1000, 800, None, None, None), text
    width, height, max_width, max_height, max_area = image
    segments = [*rest.split("/"), "", "", ""][:4]
    try:
        request = parse_request(*segments)
        plan = plan_request(request, width, height, max_width, max_height, max_area)
    except IIIFParameterError:
        return
    x, y, w, h = plan.region
    assert min(x, y) >= 0 and min(w, h) >= 1, plan
    assert x + w <= width and y + h <= height, plan
    out_w, out_h = plan.size
    assert out_w >= 1 and out_h >= 1, plan
    assert Limits.of(max_width, max_height, max_area).allow(out_w, out_h) or (
        max_width is None and max_area is None
    ), plan
    assert 0 <= plan.rotation < 360, plan
    again = plan_request(
        parse_request(*plan.canonical.split("/")), width, height, max_width, max_height, max_area
    )
    assert again.canonical == plan.canonical, (plan.canonical, again.canonical)
    assert again.region == plan.region and again.size == plan.size, (plan, again)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
