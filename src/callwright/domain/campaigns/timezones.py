"""A recipient's time zone when its row names none: a representative IANA zone for the
country its number's calling code belongs to.

One zone per calling code is exact for single-zone countries and an approximation for
the others, chosen near the middle of the country's population: +1 (the North American
plan) is America/Chicago, so a 09:00–17:00 window is 10:00–18:00 in New York and
07:00–15:00 in Los Angeles; +7 is Europe/Moscow, +61 Australia/Sydney, +55
America/Sao_Paulo. Recipients in another zone of such a country need a ``timezone``
column. A code missing from the table falls back to the campaign's
``default_timezone``, else the row is rejected.
"""

from __future__ import annotations

__all__ = ["zone_for_number"]

_ZONES: dict[str, str] = {
    "1": "America/Chicago",
    "7": "Europe/Moscow",
    "20": "Africa/Cairo",
    "27": "Africa/Johannesburg",
    "30": "Europe/Athens",
    "31": "Europe/Amsterdam",
    "32": "Europe/Brussels",
    "33": "Europe/Paris",
    "34": "Europe/Madrid",
    "36": "Europe/Budapest",
    "39": "Europe/Rome",
    "40": "Europe/Bucharest",
    "41": "Europe/Zurich",
    "43": "Europe/Vienna",
    "44": "Europe/London",
    "45": "Europe/Copenhagen",
    "46": "Europe/Stockholm",
    "47": "Europe/Oslo",
    "48": "Europe/Warsaw",
    "49": "Europe/Berlin",
    "51": "America/Lima",
    "52": "America/Mexico_City",
    "54": "America/Argentina/Buenos_Aires",
    "55": "America/Sao_Paulo",
    "56": "America/Santiago",
    "57": "America/Bogota",
    "60": "Asia/Kuala_Lumpur",
    "61": "Australia/Sydney",
    "62": "Asia/Jakarta",
    "63": "Asia/Manila",
    "64": "Pacific/Auckland",
    "65": "Asia/Singapore",
    "66": "Asia/Bangkok",
    "81": "Asia/Tokyo",
    "82": "Asia/Seoul",
    "84": "Asia/Ho_Chi_Minh",
    "86": "Asia/Shanghai",
    "90": "Europe/Istanbul",
    "91": "Asia/Kolkata",
    "92": "Asia/Karachi",
    "234": "Africa/Lagos",
    "254": "Africa/Nairobi",
    "351": "Europe/Lisbon",
    "352": "Europe/Luxembourg",
    "353": "Europe/Dublin",
    "358": "Europe/Helsinki",
    "420": "Europe/Prague",
    "852": "Asia/Hong_Kong",
    "886": "Asia/Taipei",
    "966": "Asia/Riyadh",
    "971": "Asia/Dubai",
    "972": "Asia/Jerusalem",
}


def zone_for_number(number: str) -> str | None:
    """The representative zone of an E.164 number's calling code (codes are one to
    three digits and prefix-free), or None when the table has none."""
    digits = number.removeprefix("+")
    for length in (1, 2, 3):
        zone = _ZONES.get(digits[:length])
        if zone is not None:
            return zone
    return None
