"""National identifiers and their check characters (CONTRACT §5).

证照标识 (GB/T 36904, ISO/IEC 7064 MOD 37,36 hybrid), citizen ID numbers (GB 11643) and
不动产单元号 (GB/T 37346). Pure functions, each a test vector away from being proven.
"""

from __future__ import annotations

import re
from functools import lru_cache

_ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


_VALUE36 = {char: value for value, char in enumerate(_ALNUM36)}
# One step of ISO/IEC 7064 MOD 37,36 as a table: _STEP[product][value] is the next product.
_STEP = [[((((product + value) % 36) or 36) * 2) % 37 for value in range(36)] for product in range(37)]


def mod37_36_check_character(payload: str) -> str:
    """ISO/IEC 7064 MOD 37,36 hybrid check character over ``payload`` (0-9A-Z).

    Raises ValueError for a character outside 0-9A-Z.
    """
    product = _prefix_product(payload[:-12]) if len(payload) > 12 else 36
    step, values = _STEP, _VALUE36
    for char in payload[-12:] if len(payload) > 12 else payload:
        value = values.get(char)
        if value is None:
            raise ValueError(f"character {char!r} is not in the 0-9A-Z alphabet")
        product = step[product][value]
    return _ALNUM36[(37 - product) % 36]


@lru_cache(maxsize=256)
def _prefix_product(prefix: str) -> int:
    """The running product after ``prefix``: a 证照标识's type and issuer segments repeat
    across a whole table, so only its serial and version are computed per value."""
    product = 36
    for char in prefix:
        value = _VALUE36.get(char)
        if value is None:
            raise ValueError(f"character {char!r} is not in the 0-9A-Z alphabet")
        product = _STEP[product][value]
    return product


_ZZBS_PATTERN = re.compile(
    r"^1\.2\.156\.3005\.2\."
    r"(?P<type>[0-9A-Z]+)\.(?P<issuer>[0-9A-Z]+)\."
    r"(?P<serial>[0-9]{9})\.(?P<version>[0-9]{3})\.(?P<check>[0-9A-Z])\Z"  # \Z: "$" lets a final "\n" in
)


def ecert_identifier_problem(zzbs: str | None, zzlxdm: str | None) -> str | None:
    """Why a 证照标识 is invalid, or ``None`` when it is valid.

    Valid means ``1.2.156.3005.2.{ZZLXDM}.{issuer}.{9 digits}.{3 digits}.{check}`` with the
    row's own ZZLXDM as the type segment and a correct MOD 37,36 check character over
    ZZLXDM + issuer + serial + version.
    """
    if zzbs is None or str(zzbs).strip() == "":
        return "empty identifier"
    match = _ZZBS_PATTERN.match(str(zzbs))
    if match is None:
        return "does not follow 1.2.156.3005.2.{ZZLXDM}.{issuer}.{9 digits}.{3 digits}.{check}"
    if zzlxdm is not None and match["type"] != str(zzlxdm).strip():
        return f"type segment {match['type']} differs from ZZLXDM {zzlxdm}"
    expected = mod37_36_check_character(
        match["type"] + match["issuer"] + match["serial"] + match["version"]
    )
    if match["check"] != expected:
        return f"check character {match['check']} should be {expected}"
    return None


def make_ecert_identifier(zzlxdm: str, issuer: str, serial: int, version: int = 1) -> str:
    """Build a valid 证照标识 (used by the demo generator and tests)."""
    serial_text, version_text = f"{serial:09d}", f"{version:03d}"
    check = mod37_36_check_character(zzlxdm + issuer + serial_text + version_text)
    return f"1.2.156.3005.2.{zzlxdm}.{issuer}.{serial_text}.{version_text}.{check}"


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number_check_character(first17: str) -> str:
    """GB 11643 check character for the first 17 digits of an ID number."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def is_valid_id_number(value: str | None) -> bool:
    """True when ``value`` is an 18-character GB 11643 number with a correct check."""
    if value is None:
        return False
    text = str(value).strip().upper()
    if len(text) != 18 or not (text[:17].isascii() and text[:17].isdigit()):  # not ² or ①
        return False
    return id_number_check_character(text[:17]) == text[17]


def is_valid_unit_number(value: str | None) -> bool:
    """GB/T 37346 不动产单元号 shape: 28 characters, 定着物特征码 F/L/Q/W at position 20."""
    if value is None:
        return False
    text = str(value)
    return (
        len(text) == 28
        and text[:6].isdigit()
        and text[19] in "FLQW"
        and text[20:].isdigit()
    )
