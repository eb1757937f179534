"""Rights statements and licences as people read them: a name and the address to read it at.

Records state the rights of their media as a URI (heritage-standards §2: "rights as URIs",
RightsStatements.org or Creative Commons). :func:`describe_rights` turns one into a label,
so a page can say "In Copyright" and link to the statement instead of printing a bare URI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.errors import N_

# The twelve statements of RightsStatements.org, by their code.
RIGHTS_STATEMENTS = {
    "InC": N_("In Copyright"),
    "InC-OW-EU": N_("In Copyright – EU Orphan Work"),
    "InC-EDU": N_("In Copyright – Educational Use Permitted"),
    "InC-NC": N_("In Copyright – Non-Commercial Use Permitted"),
    "InC-RUU": N_("In Copyright – Rights-holder(s) Unlocatable or Unidentifiable"),
    "NoC-CR": N_("No Copyright – Contractual Restrictions"),
    "NoC-NC": N_("No Copyright – Non-Commercial Use Only"),
    "NoC-OKLR": N_("No Copyright – Other Known Legal Restrictions"),
    "NoC-US": N_("No Copyright – United States"),
    "CNE": N_("Copyright Not Evaluated"),
    "UND": N_("Copyright Undetermined"),
    "NKC": N_("No Known Copyright"),
}
_STATEMENT = re.compile(r"^https?://rightsstatements\.org/(?:vocab|page)/([A-Za-z-]+)/")
_LICENCE = re.compile(r"^https?://creativecommons\.org/licenses/([a-z-]+)/(\d+(?:\.\d+)?)/?")
_PUBLIC_DOMAIN = {
    "zero": "CC0",
    "mark": N_("Public Domain Mark"),
}
_DEDICATION = re.compile(r"^https?://creativecommons\.org/publicdomain/(zero|mark)/(\d+\.\d+)/?")
# Software licences some sample media come under (server/samples.py), by their usual names.
_SOFTWARE_LICENCES = (
    (re.compile(r"^https?://opensource\.org/licenses?/mit/?$", re.IGNORECASE), "MIT License"),
    (re.compile(r"^https?://www\.apache\.org/licenses/LICENSE-2\.0"), "Apache License 2.0"),
)


@dataclass(frozen=True)
class Rights:
    """``label`` is a message id to translate when ``translate`` is true, else shown as is."""

    label: str
    url: str | None  # None when the statement is not a web address
    translate: bool


def describe_rights(uri: str) -> Rights:
    """A rights URI as a label and a link; unknown web addresses keep their address as label."""
    value = uri.strip()
    if match := _STATEMENT.match(value):
        label = RIGHTS_STATEMENTS.get(match.group(1))
        if label is not None:
            return Rights(label, value, translate=True)
    if match := _LICENCE.match(value):
        return Rights(f"CC {match.group(1).upper()} {match.group(2)}", value, translate=False)
    if match := _DEDICATION.match(value):
        name = _PUBLIC_DOMAIN[match.group(1)]
        if match.group(1) == "zero":
            return Rights(f"{name} {match.group(2)}", value, translate=False)
        return Rights(name, value, translate=True)
    for pattern, name in _SOFTWARE_LICENCES:
        if pattern.match(value):
            return Rights(name, value, translate=False)
    is_address = value.startswith(("http://", "https://"))
    return Rights(value, value if is_address else None, translate=False)


# What staff choose from for a media item's licence (the media tab of the record editor):
# the Creative Commons 4.0 licences, the public-domain tools, then the rights statements.
CC_LICENCE_CODES = ("by", "by-sa", "by-nc", "by-nc-sa", "by-nd", "by-nc-nd")
LICENCE_CHOICES = (
    *(f"https://creativecommons.org/licenses/{code}/4.0/" for code in CC_LICENCE_CODES),
    "https://creativecommons.org/publicdomain/zero/1.0/",
    "https://creativecommons.org/publicdomain/mark/1.0/",
    *(f"http://rightsstatements.org/vocab/{code}/1.0/" for code in RIGHTS_STATEMENTS),
)
