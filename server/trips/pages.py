"""The field-trip pages: start a trip, the teacher's console, joining, the pupil's view,
the summary download and the printable worksheet.

Teachers (any signed-in account with ``lead_trip``) start a trip at ``/trips/new`` and
lead it from ``/trips/{code}/lead``; only the teacher who started a trip reaches its
console, its end and its summary (anyone else gets the 404 an unknown code gets). Pupils
need no account: ``/trips/join`` takes the code and a nickname, ``/trips/{code}`` is the
trip itself. Every stop of the exhibition is rendered once into the page; the trip islands
(``viewer/src/trip.js``, ``trip-teacher.js``) show the one the teacher is on.
"""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.admin import PRIVATE_HEADERS
from server.api import access_levels
from server.audit import Actor
from server.auth import current_user
from server.errors import N_, Conflict, NotFound, ValidationError
from server.exhibition_pages import KIND_LABELS, load_view
from server.exports import neutralise_cell
from server.models import Trip
from server.qr import qr_svg
from server.state import get_museum
from server.trips.hub import trip_hub
from server.trips.protocol import (
    MAX_NICKNAME,
    MAX_OPTION,
    MAX_OPTIONS,
    MAX_QUESTION,
    MAX_SHORT_ANSWER,
    ProtocolError,
    clean_nickname,
)
from server.trips.service import find_trip, finish_trip, owned_trip, start_trip
from server.trips.state import parse_code
from server.trips.stops import TripExhibition, load_trip_exhibition, public_exhibitions, stop_json
from server.urls import public_base

RECENT_TRIPS = 20


def _user_id(request: Request) -> int:
    user = current_user(request)
    assert user is not None  # the route's rule (lead_trip) lets no visitor through
    return user.id


def _limits() -> dict[str, int]:
    return {
        "nickname": MAX_NICKNAME,
        "question": MAX_QUESTION,
        "option": MAX_OPTION,
        "options": MAX_OPTIONS,
        "short_answer": MAX_SHORT_ANSWER,
    }


# Starting a trip ----------------------------------------------------------------


async def trip_new(request: Request, error: str | None = None, status: int = 200) -> Response:
    """``/trips/new``: choose a public exhibition; the teacher's recent trips below."""
    museum = get_museum(request)
    lang = request.state.lang
    gettext = museum.translations(lang).gettext
    teacher = _user_id(request)

    def load(session: Session) -> tuple[Any, list[Trip]]:
        trips = session.scalars(
            select(Trip)
            .where(Trip.teacher_id == teacher)
            .order_by(Trip.created_at.desc())
            .limit(RECENT_TRIPS)
        ).all()
        for trip in trips:
            session.expunge(trip)
        return public_exhibitions(session, lang, gettext), list(trips)

    exhibitions, trips = await museum.db.run(load)
    titles = {view.id: view.title.text for view in exhibitions}
    return museum.templates.TemplateResponse(
        request,
        "trip_start.html",
        {
            "exhibitions": exhibitions,
            "chosen": request.query_params.get("exhibition", ""),
            "trips": trips,
            "titles": titles,
            "error": error,
        },
        status_code=status,
        headers=PRIVATE_HEADERS,
    )


async def trip_create(request: Request) -> Response:
    """``POST /trips``: a new trip through the chosen exhibition; on to its console."""
    museum = get_museum(request)
    form = await request.form()
    exhibition = form.get("exhibition")
    if not isinstance(exhibition, str) or not exhibition.strip():
        gettext = museum.translations(request.state.lang).gettext
        return await trip_new(request, gettext(N_("Choose an exhibition.")), 422)
    try:
        code = await start_trip(
            museum,
            await trip_hub(request.app),
            exhibition.strip(),
            _user_id(request),
            request.state.lang,
            Actor.from_request(request),
        )
    except ValidationError as exc:
        gettext = museum.translations(request.state.lang).gettext
        return await trip_new(request, exc.render(gettext), 422)
    return RedirectResponse(request.url_for("trip_teacher", code=code).path, status_code=303)


# The teacher's console, the end and the summary ----------------------------------------


async def _exhibition(request: Request, exhibition_id: str | None) -> TripExhibition:
    museum = get_museum(request)
    lang = request.state.lang
    gettext = museum.translations(lang).gettext
    found = (
        await museum.db.run(
            lambda s: load_trip_exhibition(
                s, exhibition_id, lang, gettext, museum.store.derivatives
            )
        )
        if exhibition_id
        else None
    )
    if found is None:
        raise NotFound(
            N_("The exhibition of this field trip is no longer public."),
            parameter="exhibition_id",
        )
    return found


async def _current_stop(request: Request, code: str, count: int) -> int:
    """The stop the class is on now (the first when the hub has not started the trip)."""
    live = await (await trip_hub(request.app)).load(code)
    return min(live.stop, count - 1) if live is not None else 0


def _join_url(request: Request, code: str) -> str:
    return public_base(request) + request.url_for("trip_pupil", code=code).path


async def trip_teacher(request: Request) -> Response:
    """``/trips/{code}/lead``: the console (or, once ended, the summary and its download)."""
    museum = get_museum(request)
    trip = await owned_trip(museum, parse_code(request.path_params["code"]), _user_id(request))
    context: dict[str, Any] = {"trip": trip, "limits": _limits(), "missing": False}
    if not trip.ended:
        try:
            exhibition = await _exhibition(request, trip.exhibition_id)
        except NotFound:  # unpublished meanwhile: the teacher can still end the trip
            context["missing"] = True
            return museum.templates.TemplateResponse(
                request, "trip_teacher.html", context, headers=PRIVATE_HEADERS
            )
        join_url = _join_url(request, trip.code)
        svg = qr_svg(join_url).decode("utf-8")
        context |= {
            "exhibition": exhibition.view,
            "stops": exhibition.stops,
            "media_rights": exhibition.rights,
            "stops_json": stop_json(exhibition.stops),
            "current": await _current_stop(request, trip.code, len(exhibition.stops)),
            "kind_labels": KIND_LABELS,
            "join_url": join_url,
            "qr": Markup(svg),  # noqa: S704 - segno's own SVG of our own URL
        }
    return museum.templates.TemplateResponse(
        request, "trip_teacher.html", context, headers=PRIVATE_HEADERS
    )


async def trip_end(request: Request) -> Response:
    """``POST /trips/{code}/end``: end the trip for everyone and keep its summary."""
    museum = get_museum(request)
    trip = await owned_trip(museum, parse_code(request.path_params["code"]), _user_id(request))
    await finish_trip(museum, await trip_hub(request.app), trip.code, Actor.from_request(request))
    return RedirectResponse(request.url_for("trip_teacher", code=trip.code).path, status_code=303)


SUMMARY_COLUMNS = (
    N_("Entry"),
    N_("Nickname"),
    N_("Time (UTC)"),
    N_("Question"),
    N_("Question text"),
    N_("Answer"),
)


def summary_rows(summary: dict[str, Any], gettext: Any) -> list[list[str]]:
    """The summary as spreadsheet rows: who joined when, then each question's answers."""
    rows: list[list[str]] = []
    for person in summary.get("participants", []):
        rows.append([gettext(N_("joined")), person["nickname"], person["joined_at"], "", "", ""])
    for number, question in enumerate(summary.get("questions", []), 1):
        rows.append(
            [gettext(N_("question")), "", question["asked_at"], str(number), question["text"], ""]
        )
        options = question.get("options") or []
        for given in question.get("answers", []):
            if "choice" in given and given["choice"] < len(options):
                shown = f"{given['choice'] + 1}. {options[given['choice']]}"
            else:
                shown = given.get("text", "")
            rows.append(
                [
                    gettext(N_("answer")),
                    given["nickname"],
                    given["at"],
                    str(number),
                    question["text"],
                    shown,
                ]
            )
    return [[neutralise_cell(cell) for cell in row] for row in rows]


async def trip_summary_csv(request: Request) -> Response:
    """``/trips/{code}/summary.csv``: the ended trip's summary, for the teacher alone."""
    museum = get_museum(request)
    trip = await owned_trip(museum, parse_code(request.path_params["code"]), _user_id(request))
    if not trip.ended:
        raise Conflict(
            N_("The field trip {code} is still running; end it to download its summary."),
            parameter="code",
            code=trip.code,
        )
    gettext = museum.translations(request.state.lang).gettext
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([gettext(name) for name in SUMMARY_COLUMNS])
    writer.writerows(summary_rows(trip.summary, gettext))
    name = f"field-trip-{trip.code}-{trip.ended_at:%Y%m%d}.csv"
    return Response(
        "\ufeff" + buffer.getvalue(),  # the BOM makes spreadsheets read UTF-8
        media_type="text/csv; charset=utf-8",
        headers={**PRIVATE_HEADERS, "content-disposition": f'attachment; filename="{name}"'},
    )


# Pupils -----------------------------------------------------------------------------


def _join_page(
    request: Request, status: int, error: str | None = None, code: str = "", nickname: str = ""
) -> Response:
    return get_museum(request).templates.TemplateResponse(
        request,
        "trip_join.html",
        {"error": error, "code": code, "nickname": nickname, "limits": _limits()},
        status_code=status,
        headers=PRIVATE_HEADERS,
    )


async def trip_join(request: Request) -> Response:
    """``/trips/join``: the code and a nickname, no account; then on to the trip."""
    museum = get_museum(request)
    gettext = museum.translations(request.state.lang).gettext
    typed = request.query_params.get("code")
    nickname = request.query_params.get("nickname", "")
    if typed is None:
        return _join_page(request, 200)
    code = parse_code(typed)
    if code is None:
        message = gettext(N_("A trip code has 6 letters and digits, e.g. {example}."))
        return _join_page(request, 422, message.format(example="KT7M4Q"), typed[:12], nickname)
    try:
        nickname = clean_nickname(nickname)
    except ProtocolError as exc:
        return _join_page(request, 422, exc.render(gettext), code, nickname[:MAX_NICKNAME])
    trip = await find_trip(museum, code)
    if trip is None or trip.expired:
        return _join_page(request, 404, _gone(gettext, code, trip is not None), code, nickname)
    target = request.url_for("trip_pupil", code=code).path
    return RedirectResponse(f"{target}?{urlencode({'nickname': nickname})}", status_code=303)


def _gone(gettext: Any, code: str, ended: bool) -> str:
    if ended:
        return str(gettext(N_("The field trip {code} has ended.")).format(code=code))
    return str(
        gettext(N_("No field trip has the code {code}. Check it with your teacher.")).format(
            code=code
        )
    )


async def trip_pupil(request: Request) -> Response:
    """``/trips/{code}``: the trip as a pupil sees it, on the stop the teacher is on."""
    museum = get_museum(request)
    gettext = museum.translations(request.state.lang).gettext
    typed = request.path_params["code"]
    code = parse_code(typed)
    trip = await find_trip(museum, code) if code else None
    if code is None or trip is None or trip.expired:
        status = 410 if trip is not None else 404
        return _join_page(request, status, _gone(gettext, code or typed[:12], trip is not None))
    exhibition = await _exhibition(request, trip.exhibition_id)
    current = await _current_stop(request, code, len(exhibition.stops))
    return museum.templates.TemplateResponse(
        request,
        "trip_pupil.html",
        {
            "trip": trip,
            "exhibition": exhibition.view,
            "stops": exhibition.stops,
            "current": current,
            "media_rights": exhibition.rights,
            "stops_json": stop_json(exhibition.stops),
            "kind_labels": KIND_LABELS,
            "limits": _limits(),
        },
        headers=PRIVATE_HEADERS,
    )


# The printable worksheet ---------------------------------------------------------------


async def worksheet(request: Request) -> Response:
    """``/exhibitions/{exhibition_id}/worksheet``: an A4 worksheet for the class."""
    museum = get_museum(request)
    lang = request.state.lang
    gettext = museum.translations(lang).gettext
    exhibition_id = request.path_params["exhibition_id"]
    levels = access_levels(request)
    view = await museum.db.run(lambda s: load_view(s, exhibition_id, levels, lang, gettext))
    if view is None:
        raise NotFound(
            N_("No exhibition with id {id}."), parameter="exhibition_id", id=exhibition_id
        )
    code = parse_code(request.query_params.get("code", "")) or ""
    return museum.templates.TemplateResponse(
        request,
        "worksheet.html",
        {"exhibition": view, "kind_labels": KIND_LABELS, "code": code},
    )
