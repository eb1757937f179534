"""``/admin/report/{year}.{fmt}``: the yearly report files that ``museum report`` writes.

The file is made on request (a few hundred milliseconds, off the event loop) in the page's
language and sent as an attachment; nothing is kept on the server.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.admin import PRIVATE_HEADERS
from server.errors import N_, NotFound
from server.report import parse_year, progress, report_date, today_in_vietnam
from server.report_files import render_pdf, write_xlsx
from server.state import get_museum

MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
FILE_STEM = "digitization-report"


def report_bytes(session: Session, year: int, fmt: str, lang: str) -> bytes:
    """The report for ``year`` as an XLSX workbook or a PDF, in ``lang``."""
    report = progress(session, report_date(year, today_in_vietnam()))
    if fmt == "pdf":
        return render_pdf(report, lang)
    with tempfile.TemporaryDirectory(prefix="museum-report-") as folder:
        path = Path(folder) / f"{FILE_STEM}.xlsx"
        write_xlsx(report, path, lang)
        return path.read_bytes()


def file_name(year: int, fmt: str) -> str:
    return f"{FILE_STEM}-{year}.{fmt}"


async def report_file(request: Request) -> Response:
    """The report of ``year`` (four digits, a year of the plan) as ``xlsx`` or ``pdf``."""
    museum = get_museum(request)
    fmt = request.path_params["fmt"]
    if fmt not in MEDIA_TYPES:
        raise NotFound(
            N_("There is no report as {format}; choose one of {formats}."),
            parameter="fmt",
            format=fmt[:16],
            formats=", ".join(MEDIA_TYPES),
        )
    year = parse_year(request.path_params["year"], today_in_vietnam())
    lang: str = request.state.lang
    data = await museum.db.run(lambda session: report_bytes(session, year, fmt, lang))
    name = file_name(year, fmt)
    return Response(
        data,
        media_type=MEDIA_TYPES[fmt],
        headers={**PRIVATE_HEADERS, "content-disposition": f'attachment; filename="{name}"'},
    )
