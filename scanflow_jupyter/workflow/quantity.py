"""Resource quantities as Kubernetes writes them: ``500m`` of a CPU, ``512Mi`` of memory, ``1.5`` cores.

The grammar is Kubernetes' own (``k8s.io/apimachinery`` resource.Quantity): a non-negative decimal number,
then an optional suffix, binary (``Ki Mi Gi Ti Pi Ei``), decimal (``n u m k M G T P E``) or a decimal exponent
(``e3``, ``E-2``). Checked here, in the pure model, so a bad request is reported by validation with every
other problem, before any backend sees it.

Example
-------
>>> canonical_cpu(0.5), canonical_cpu("250m"), is_quantity("512Mi"), is_quantity("lots")
('500m', '250m', True, False)
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

QUANTITY = re.compile(
    r"^(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][-+]?[0-9]+)?$"
)


def is_quantity(text: str) -> bool:
    """True when ``text`` is a quantity the Kubernetes API accepts (no sign: requests are never negative)."""
    return bool(QUANTITY.match(text.strip())) if isinstance(text, str) else False


def canonical_cpu(value: float | int | str) -> str:
    """A CPU amount as a quantity string: numbers are cores (``0.5`` -> ``500m``, ``2`` -> ``2``).

    Raises ``ValueError`` naming the value when it is not a quantity.
    """
    if isinstance(value, bool):
        raise ValueError(f"cpu {value!r} is not a quantity")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"cpu {value!r} is not a quantity (cores like 0.5 or 2, or millicores like '500m')")
        if value < 0:
            raise ValueError(f"cpu {value!r} is negative")
        try:
            cores = Decimal(str(value))
        except InvalidOperation:  # pragma: no cover - str(float) is always a decimal
            raise ValueError(f"cpu {value!r} is not a quantity") from None
        if cores == cores.to_integral_value():
            return str(int(cores))
        millis = cores * 1000
        if millis != millis.to_integral_value():
            raise ValueError(f"cpu {value!r} is finer than a millicore; round it (for example to {cores:.3f})")
        return f"{int(millis)}m"
    text = str(value).strip()
    if not is_quantity(text):
        raise ValueError(f"cpu {value!r} is not a quantity (cores like 0.5 or 2, or millicores like '500m')")
    return text


def canonical_memory(value: str | int) -> str:
    """A memory amount as a quantity string (``512Mi``, ``2G``; a bare number is bytes)."""
    if isinstance(value, bool):
        raise ValueError(f"memory {value!r} is not a quantity")
    text = str(value).strip()
    if not is_quantity(text):
        raise ValueError(f"memory {value!r} is not a quantity (for example '512Mi', '2Gi' or '1G')")
    return text
