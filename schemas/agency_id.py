"""Agency ids in the national electronic-identifier format (QCVN 102:2016, Decision 20/2020/QĐ-TTg).

An id has four dot-separated groups, ``DDD.CC.BB.LNN``: the rightmost group is level 1, a letter
for the kind of body and two digits; the groups to its left number units at levels 4, 3 and 2,
where ``00`` or ``000`` means "the body itself". Source: ``shared/domain/NOTES.md`` (marked there
as general knowledge of the standard, to be verified).
"""

import re
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints

AGENCY_ID_PATTERN = r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}$"
"""ASCII digits only: ``\\d`` would also admit other scripts' digits."""
_AGENCY_ID_RE = re.compile(AGENCY_ID_PATTERN)

AgencyId = Annotated[str, StringConstraints(pattern=AGENCY_ID_PATTERN)]
"""A validated electronic identifier code, e.g. ``000.00.00.G12``."""


class AgencyKind(StrEnum):
    """What kind of body an agency is; a modelling choice of DocHub, not part of the id."""

    MINISTRY = "ministry"
    GOVERNMENT_AGENCY = "government_agency"
    PROVINCE = "province"
    CENTRAL_BODY = "central_body"
    OTHER = "other"


def is_agency_id(value: str) -> bool:
    """Whether ``value`` is written in the national electronic-identifier format."""
    return _AGENCY_ID_RE.fullmatch(value) is not None


def level_one_letter(agency_id: str) -> str:
    """The letter of the level-1 group: ``G`` for ministries and government agencies, ``H`` for
    provinces and centrally-run cities, other letters for other branches."""
    if not is_agency_id(agency_id):
        raise ValueError(f"not an agency id: {agency_id!r}")
    return agency_id[-3]
