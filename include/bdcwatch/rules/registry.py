"""Every rule the engine knows, by code (for titles in digests and for look-back)."""

from __future__ import annotations

from . import Rule
from .cases import CASE_RULES
from .ecert import ECERT_RULES
from .staff import STAFF_RULES

ALL_RULES: dict[str, Rule] = {rule.code: rule for rule in (*ECERT_RULES, *CASE_RULES, *STAFF_RULES)}


def rule_title(code: str) -> str:
    rule = ALL_RULES.get(code)
    return rule.description if rule else code
