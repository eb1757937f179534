"""Media processing: input file → web-ready artefacts + a Report.

Pure pipelines; this package never imports ``server`` or any web framework,
so it can run in a sandboxed worker, a notebook or another project.
"""

__all__ = ["registry", "sniff"]
