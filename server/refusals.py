"""What each media-pipeline refusal code means, in words museum staff understand.

The pipelines (``processing``) refuse inputs with a stable ``code`` and one
English sentence of detail (counts, file names, the setting to change). Their
code runs in a sandboxed child with no catalog of translations, so the server
translates here, by code: the summary in the user's language, then the detail.
"""

from __future__ import annotations

from collections.abc import Callable

from server.errors import N_

SUMMARIES: dict[str, str] = {
    # Limits (settings MUSEUM_MODEL_MAX_*, MUSEUM_MAX_UPLOAD_SIZE)
    "too_many_vertices": N_("The scan has more vertices than the limit allows."),
    "too_many_faces": N_("The scan has more triangles than the limit allows."),
    "too_many_points": N_("The point cloud has more points than the limit allows."),
    "texture_too_large": N_("A texture of the scan is larger than the limit allows."),
    "too_many_textures": N_("The scan has more textures than the limit allows."),
    "too_many_archive_entries": N_("The ZIP bundle holds more files than the limit allows."),
    "archive_too_large": N_("The ZIP bundle expands to more bytes than the limit allows."),
    "data_uri_too_large": N_("Data embedded in the model file is larger than the limit allows."),
    "input_too_large": N_("The upload is larger than the limit allows."),
    "too_large": N_("The file is too large to process on this server."),
    "too_many_pixels": N_("The image has more pixels than the limit allows."),
    "too_many_pages": N_("The document has more pages than the limit allows."),
    "decompression_bomb": N_(
        "The image would expand far beyond its file size (a decompression bomb) and was not "
        "decoded."
    ),
    # Unsafe or unusable uploads
    "unsafe_reference": N_("The model refers to a file outside the upload, which is not allowed."),
    "unsafe_archive": N_("The ZIP bundle has an unsafe entry and was not extracted."),
    "encrypted_archive": N_("The ZIP bundle is password-protected."),
    "ambiguous_bundle": N_("The upload holds several models; upload one model per bundle."),
    "no_model_file": N_("The upload holds no 3D model file."),
    "missing_file": N_("A file the model needs is missing from the upload."),
    "unsupported_format": N_("This file format is not supported."),
    "unsupported_feature": N_("The file uses a feature that is not supported."),
    "malformed": N_("The file is damaged or not what its name says."),
    "unreadable": N_("The file could not be read."),
    "not_found": N_("The file or folder does not exist."),
    # Content
    "empty_model": N_("The model has no usable faces or points."),
    "non_finite": N_("The model's coordinates are not numbers (NaN or infinity)."),
    "invalid_mesh": N_("The mesh is inconsistent (faces refer to missing vertices)."),
    "not_a_mesh": N_("The file holds a point cloud, not a mesh."),
    "no_faces": N_("The file holds a point cloud, not a mesh."),
    "reconstruction_failed": N_("No surface could be reconstructed from the point cloud."),
    "invalid_parameter": N_("A processing parameter is invalid."),
    # Internal checks that should never fail on a valid input
    "bad_mesh": N_("An internal check of the processed mesh failed."),
    "bad_points": N_("An internal check of the processed point cloud failed."),
    "bad_vertices": N_("An internal check of the processed model failed."),
    "empty_mesh": N_("An internal check of the processed mesh failed."),
    "empty_points": N_("An internal check of the processed point cloud failed."),
    "bad_render_size": N_("The poster could not be rendered at the requested size."),
    "bad_poster_pixels": N_("The poster could not be rendered."),
    # Video and audio
    "too_long": N_("The recording is longer than the limit allows."),
    "no_streams": N_("The file holds no video or audio."),
    "timeout": N_("A processing step took longer than its time limit."),
    # The sandboxed child process
    "memory": N_("Processing needed more memory than its limit."),
    "cpu_time": N_("Processing used more CPU time than its limit."),
    "wall_time": N_("Processing took longer than its time limit."),
    "file_size": N_("Processing tried to write a file larger than its limit."),
    "crashed": N_("The processing program stopped unexpectedly."),
    "sandbox_unavailable": N_(
        "Processing must run cut off from the network, and this server cannot do that."
    ),
    "failed": N_("Processing failed."),
    "output_exists": N_("The output folder is not empty."),
    "disk_full": N_("The museum's disk is nearly full; processing is retried later."),
}
UNKNOWN = N_("The input was refused.")


def summary(code: str) -> str:
    """The message id of ``code``'s summary (a generic one for a code we don't know)."""
    return SUMMARIES.get(code, UNKNOWN)


def describe(code: str, reason: str, gettext: Callable[[str], str]) -> str:
    """One line: the translated summary, then the code and the pipeline's own detail."""
    return gettext(N_("{summary} ({code}: {reason})")).format(
        summary=gettext(summary(code)), code=code, reason=reason
    )
