"""The headless poster renderer: orientation, colours, silhouette, z-test, determinism."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from processing.threed.model import Model, ModelError, Part, Texture
from processing.threed.render import (
    DEFAULT_BACKGROUND,
    FOV_DEGREES,
    FRAME_MARGIN,
    colour_variance,
    frame_camera,
    render,
    save_poster,
)

BACKGROUND = np.array(DEFAULT_BACKGROUND, np.uint8)
RED, GREEN, BLUE = (255, 0, 0, 255), (0, 255, 0, 255), (0, 0, 255, 255)


def sphere_part(subdivisions: int = 4, **extra: object) -> Part:
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions)
    return Part(
        np.asarray(sphere.vertices, np.float64),
        np.asarray(sphere.faces, np.uint32),
        **extra,  # type: ignore[arg-type]
    )


def quad(z: float = 0.0, size: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A square facing +z (the front), bottom edge on y = 0, glTF UVs (v down)."""
    half = size / 2
    vertices = np.array(
        [[-half, 0, z], [half, 0, z], [half, size, z], [-half, size, z]], np.float64
    )
    faces = np.array([[0, 1, 2], [0, 2, 3]], np.uint32)
    uv = np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32)  # top of the image: v = 0
    return vertices, faces, uv


def background_mask(image: np.ndarray) -> np.ndarray:
    mask: np.ndarray = (image == BACKGROUND).all(axis=2)
    return mask


def dominant(pixel: np.ndarray, channel: int) -> bool:
    """The pixel is clearly of that primary colour (lit, not black, not mixed)."""
    values = pixel.astype(int)
    others = [values[c] for c in range(3) if c != channel]
    return bool(values[channel] > 150 and all(values[channel] > 2 * o for o in others))


def test_texture_keeps_its_orientation() -> None:
    # Texture: top half left red / right blue, bottom half green.
    texture = np.zeros((64, 64, 3), np.uint8)
    texture[:32, :32] = (255, 0, 0)
    texture[:32, 32:] = (0, 0, 255)
    texture[32:] = (0, 255, 0)
    vertices, faces, uv = quad()
    part = Part(vertices, faces, uv=uv, texture=Texture(texture))
    image = render(Model([part]), 200, 200, yaw_degrees=0, pitch_degrees=0)
    # The quad spans roughly pixels 38..162 both ways; sample well inside each region.
    assert dominant(image[70, 70], 0), image[70, 70]  # top left: red
    assert dominant(image[70, 130], 2), image[70, 130]  # top right: blue
    assert dominant(image[130, 70], 1), image[130, 70]  # bottom: green
    assert dominant(image[130, 130], 1), image[130, 130]


def cube_with_face_colours() -> Part:
    """A unit cube whose +z (front) face is red, +x (right) green, +y (top) blue, others grey."""
    box = trimesh.creation.box(extents=(1, 1, 1))
    corners = box.vertices[box.faces].reshape(-1, 3)  # unshared vertices: flat colours
    faces = np.arange(len(corners), dtype=np.uint32).reshape(-1, 3)
    normals = box.face_normals
    colours = np.full((len(box.faces), 4), 128, np.uint8)
    colours[normals[:, 2] > 0.9] = RED
    colours[normals[:, 0] > 0.9] = GREEN
    colours[normals[:, 1] > 0.9] = BLUE
    return Part(corners + np.array([0, 0.5, 0]), faces, colors=np.repeat(colours, 3, axis=0))


def test_vertex_colours_show_on_the_faces_the_camera_sees() -> None:
    image = render(Model([cube_with_face_colours()]), 240, 240)  # from front-right-above
    found: dict[str, tuple[float, float]] = {}
    for name, channel in (("red", 0), ("green", 1), ("blue", 2)):
        others = np.delete(image.astype(int), channel, axis=2).max(axis=2)
        mask = (image[:, :, channel] > 120) & (image[:, :, channel].astype(int) > 2 * others)
        assert mask.sum() > 1000, name
        rows, cols = np.nonzero(mask)
        found[name] = (float(rows.mean()), float(cols.mean()))
    assert found["blue"][0] < found["red"][0]  # the top is above the front
    assert found["green"][1] > found["red"][1]  # the right side is right of the front


def expected_sphere_radius_px(size: int) -> float:
    """Projected radius of a sphere framed by the camera, in output pixels."""
    half = math.radians(FOV_DEGREES) / 2
    angular = math.asin(math.sin(half) / FRAME_MARGIN)
    return (size / 2) * math.tan(angular) / math.tan(half)


def test_untextured_model_is_shaded_clay_of_the_right_size() -> None:
    size = 200
    image = render(Model([sphere_part()]), size, size)
    covered = ~background_mask(image)
    expected = math.pi * expected_sphere_radius_px(size) ** 2 / size**2
    assert covered.mean() == pytest.approx(expected, rel=0.05)
    foreground = image[covered].astype(float)
    luminance = foreground.mean(axis=1)
    assert luminance.std() > 8  # shading, not a flat disc
    assert luminance.min() > 40  # soft light: no pure-black shadows
    assert len(np.unique(foreground, axis=0)) > 100
    red, green, blue = foreground.mean(axis=0)
    assert red > green > blue  # default white becomes warm clay, not white-on-white


def test_nothing_is_painted_outside_the_silhouette() -> None:
    size = 160
    part = sphere_part()
    part.vertices = part.vertices * 0.01 + [0, 0.01, 0]  # a small 2 cm sphere
    image = render(Model([part]), size, size, yaw_degrees=0, pitch_degrees=0)
    rows, cols = np.nonzero(~background_mask(image))
    centre = size / 2
    distance = np.hypot(rows + 0.5 - centre, cols + 0.5 - centre)
    assert distance.max() <= expected_sphere_radius_px(size) + 1.0
    for corner in (image[:10, :10], image[:10, -10:], image[-10:, :10], image[-10:, -10:]):
        assert (corner == BACKGROUND).all()


def test_nearer_surface_hides_the_farther_one_whatever_the_order() -> None:
    vertices, faces, _ = quad(z=0.0)
    near_vertices, _, _ = quad(z=0.3, size=0.5)
    near_vertices = near_vertices + np.array([0, 0.25, 0])
    far = Part(vertices, faces, base_color=(0.0, 0.0, 1.0, 1.0))
    near = Part(near_vertices, faces, base_color=(1.0, 0.0, 0.0, 1.0))
    one = render(Model([far, near]), 160, 160, yaw_degrees=0, pitch_degrees=0)
    other = render(Model([near, far]), 160, 160, yaw_degrees=0, pitch_degrees=0)
    assert np.array_equal(one, other)
    assert dominant(one[80, 80], 0), one[80, 80]  # the near red square in the middle
    assert dominant(one[40, 80], 2), one[40, 80]  # the far blue one around it


def test_faces_seen_from_behind_are_lit_like_their_front() -> None:
    # Scans have holes: the inside must not render black or vanish (no back-face culling).
    vertices, faces, _ = quad()
    front = render(Model([Part(vertices, faces)]), 120, 120, yaw_degrees=0, pitch_degrees=0)
    back = render(
        Model([Part(vertices, faces[:, ::-1].copy())]), 120, 120, yaw_degrees=0, pitch_degrees=0
    )
    assert (~background_mask(front)).mean() > 0.2
    assert np.array_equal(front, back)


def test_vertex_normals_smooth_a_coarse_sphere() -> None:
    coarse = trimesh.creation.icosphere(subdivisions=1)
    vertices = np.asarray(coarse.vertices, np.float64)
    faces = np.asarray(coarse.faces, np.uint32)
    flat = render(Model([Part(vertices, faces)]), 160, 160)
    smooth = render(Model([Part(vertices, faces, normals=vertices.astype(np.float32))]), 160, 160)

    def facet_steps(image: np.ndarray) -> float:
        """Share of neighbour pairs, 3 px inside the silhouette, that jump > 4 levels."""
        inside = ~background_mask(image)
        for _ in range(3):  # erode: anti-aliased rim pixels are not facets
            eroded = inside.copy()
            eroded[1:] &= inside[:-1]
            eroded[:-1] &= inside[1:]
            eroded[:, 1:] &= inside[:, :-1]
            eroded[:, :-1] &= inside[:, 1:]
            inside = eroded
        grey = image.astype(float).mean(axis=2)
        step = np.abs(np.diff(grey, axis=1))
        return float((step[inside[:, 1:] & inside[:, :-1]] > 4).mean())

    assert facet_steps(flat) > 0.02  # visible facet edges
    assert facet_steps(smooth) < 0.002


def coloured_cloud(count: int) -> Part:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(count, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    colours = np.zeros((count, 4), np.uint8)
    colours[:] = (200, 30, 30, 255)
    colours[points[:, 1] > 0.3] = (30, 30, 200, 255)  # a blue cap on top
    return Part(points + np.array([0, 1, 0]), colors=colours)


def test_point_cloud_renders_in_its_colours() -> None:
    image = render(Model([coloured_cloud(20_000)]), 200, 200, yaw_degrees=0, pitch_degrees=0)
    covered = ~background_mask(image)
    assert covered.mean() > 0.3  # splats close up a dense cloud
    reds = np.array([dominant(pixel, 0) for pixel in image[covered]])
    blues = np.array([dominant(pixel, 2) for pixel in image[covered]])
    assert reds.sum() > 1000 and blues.sum() > 1000
    rows = np.nonzero(covered)[0]
    assert rows[blues].mean() < rows[reds].mean()  # the cap is at the top


def test_sparse_point_clouds_get_bigger_splats() -> None:
    sparse = render(Model([coloured_cloud(300)]), 200, 200)
    dense = render(Model([coloured_cloud(30_000)]), 200, 200)
    # 300 points as 1-px dots would cover < 300 px; 3-px splats cover several times that.
    assert (~background_mask(sparse)).sum() > 4 * 300
    assert (~background_mask(dense)).sum() > (~background_mask(sparse)).sum()


def test_render_is_deterministic_and_poster_bytes_are_identical(tmp_path: Path) -> None:
    texture = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    sphere = trimesh.creation.icosphere(subdivisions=3)
    uv = (sphere.vertices[:, :2] * 0.5 + 0.5).astype(np.float32)
    part = Part(
        np.asarray(sphere.vertices), np.asarray(sphere.faces, np.uint32), uv=uv,
        texture=Texture(texture),
    )  # fmt: skip
    first = render(Model([part]), 150, 100)
    second = render(Model([part]), 150, 100)
    assert first.shape == (100, 150, 3) and first.dtype == np.uint8
    assert np.array_equal(first, second)
    save_poster(first, tmp_path / "a.jpg")
    save_poster(second, tmp_path / "b.jpg", quality=85)
    data = (tmp_path / "a.jpg").read_bytes()
    assert data == (tmp_path / "b.jpg").read_bytes()
    assert data[:2] == b"\xff\xd8" and b"Exif" not in data
    with Image.open(tmp_path / "a.jpg") as decoded:
        assert decoded.size == (150, 100)
        difference = np.abs(np.asarray(decoded, int) - first.astype(int)).mean()
    assert difference < 10


def test_save_poster_refuses_non_rgb(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as caught:
        save_poster(np.zeros((4, 4), np.uint8), tmp_path / "x.jpg")
    assert caught.value.code == "bad_poster_pixels"


def test_colour_variance_tells_textured_from_grey() -> None:
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    sphere = trimesh.creation.icosphere(subdivisions=4)
    uv = (sphere.vertices[:, [0, 1]] * 0.5 + 0.5).astype(np.float32)
    vertices = np.asarray(sphere.vertices)
    faces = np.asarray(sphere.faces, np.uint32)
    textured = render(Model([Part(vertices, faces, uv=uv, texture=Texture(texture))]), 160, 160)
    grey = render(Model([Part(vertices, faces)]), 160, 160)
    textured_variance = colour_variance(textured, DEFAULT_BACKGROUND)
    grey_variance = colour_variance(grey, DEFAULT_BACKGROUND)
    assert grey_variance > 0  # shading alone varies a little
    assert textured_variance > 5 * grey_variance
    assert colour_variance(np.zeros((8, 8, 3), np.uint8) + BACKGROUND, DEFAULT_BACKGROUND) == 0


def test_empty_model_and_bad_size_are_refused() -> None:
    with pytest.raises(ModelError) as caught:
        render(Model([]), 10, 10)
    assert caught.value.code == "empty_model"
    with pytest.raises(ModelError) as caught:
        render(Model([sphere_part(1)]), 0, 10)
    assert caught.value.code == "bad_render_size"
    broken = sphere_part(1)
    broken.vertices[3] = np.nan
    with pytest.raises(ModelError) as caught:
        render(Model([broken]), 10, 10)
    assert caught.value.code == "bad_vertices"


def test_rgba_texture_and_stub_attributes_do_not_break_rendering() -> None:
    vertices, faces, uv = quad()
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:] = (0, 200, 0, 128)
    image = render(
        Model([Part(vertices, faces, uv=uv, texture=Texture(rgba))]), 80, 80, yaw_degrees=0
    )
    assert dominant(image[40, 40], 1)
    # A texture without per-vertex UVs cannot be sampled: the part falls back to clay.
    stub = Part(vertices, faces, uv=uv[:2], texture=Texture(rgba))
    clay = render(Model([stub]), 80, 80, yaw_degrees=0)
    assert np.array_equal(clay, render(Model([Part(vertices, faces)]), 80, 80, yaw_degrees=0))


def test_mixed_sizes_and_tall_frames_keep_the_whole_model() -> None:
    # A tall, thin frame: the narrower horizontal field of view must still fit the sphere.
    image = render(Model([sphere_part(2)]), 60, 200)
    covered = ~background_mask(image)
    assert covered.any()
    assert not covered[:, 0].any() and not covered[:, -1].any()
    assert not covered[0].any() and not covered[-1].any()


def test_texture_is_mapped_with_perspective() -> None:
    # A floor receding from the camera: the texture's halfway line is the floor's world
    # midline (z = 0), which perspective draws above the middle of the floor's image.
    vertices = np.array([[-1, 0, -1], [1, 0, -1], [1, 0, 1], [-1, 0, 1]], np.float64)
    faces = np.array([[0, 2, 1], [0, 3, 2]], np.uint32)
    uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)  # v = 0 at the far edge
    texture = np.zeros((64, 64, 3), np.uint8)
    texture[:32] = (0, 0, 255)  # far half blue
    texture[32:] = (255, 0, 0)  # near half red
    size = 200
    image = render(
        Model([Part(vertices, faces, uv=uv, texture=Texture(texture))]),
        size,
        size,
        yaw_degrees=0,
        pitch_degrees=30,
    )
    camera = frame_camera(np.zeros(3), math.sqrt(2), 2 * size, 2 * size, 0, 30)
    screen, _ = camera.project(np.array([[0.0, 0, -1], [0, 0, 0], [0, 0, 1]]))
    far_row, midline_row, near_row = screen[:, 1] / 2
    assert midline_row - far_row < 0.8 * (near_row - midline_row)  # perspective at work
    column = image[:, size // 3]  # off the diagonal the two triangles share
    red_rows = [row for row in range(size) if dominant(column[row], 0)]
    blue_rows = [row for row in range(size) if dominant(column[row], 2)]
    assert max(blue_rows) < min(red_rows)
    assert abs(min(red_rows) - midline_row) <= 1.5
