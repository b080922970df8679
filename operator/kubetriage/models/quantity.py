"""Kubernetes resource quantities: parsing ("256Mi", "500m", "1.5Gi", "1e9") into base units,
the strict pattern a suggested value must match, and the formats the operator writes.

The one place quantities are understood; used by the analyzers (limits and usage), the
remediation parameters (validation) and the planner (bounded increases). Pure.
"""

from __future__ import annotations

import math
import re

KI = 1024.0
MI = 1024.0**2
GI = 1024.0**3

# What a suggested value may look like: no exponent, no sign, no spaces (it goes into a
# command line and a patch).
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$"

_QUANTITY = re.compile(r"^\s*([0-9.]+(?:e[+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")
_SUFFIXES: dict[str, float] = {
    "": 1.0,
    "m": 1e-3,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": KI,
    "Mi": MI,
    "Gi": GI,
    "Ti": 1024.0**4,
}


def parse_quantity(text: str | None) -> float | None:
    """A Kubernetes quantity in base units (bytes, cores), or None when it is not one."""
    if not text:
        return None
    match = _QUANTITY.match(text)
    if not match or match.group(2) not in _SUFFIXES:
        return None
    try:
        return float(match.group(1)) * _SUFFIXES[match.group(2)]
    except ValueError:
        return None


def format_bytes(value: float) -> str:
    """Human form of a byte count for summaries ("256Mi", "1.5Gi")."""
    if value >= GI:
        return f"{value / GI:.3g}Gi"
    return f"{value / MI:.0f}Mi"


def format_memory(value: float) -> str:
    """Bytes as a quantity, rounded down to a MiB so a capped value never exceeds its cap."""
    mib = math.floor(value / MI)
    if mib * MI % GI == 0 and mib >= 1024:
        return f"{int(mib * MI // GI)}Gi"
    return f"{mib}Mi"


def format_cpu(value: float) -> str:
    """Cores as millicores, rounded down."""
    return f"{math.floor(value * 1000 + 1e-6)}m"
