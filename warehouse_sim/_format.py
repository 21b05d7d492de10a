"""Numbers as people read them: significant figures, thousands separators, no scientific notation.

Used by every text a user reads (evaluation reports, ``bench``, ``train`` progress, video
overlays): ``14,620`` rather than ``1.462e+04``, ``0.85`` rather than ``0``.
"""

from __future__ import annotations

import math


def plain(value: float, digits: int = 4, *, max_decimals: int = 6) -> str:
    """``value`` with about ``digits`` significant figures, in positional notation.

    Integers and values of 10**(digits-1) and more are shown whole with thousands
    separators; smaller values get just enough decimals for ``digits`` significant
    figures (at most ``max_decimals``). Non-finite values read ``nan``/``inf``/``-inf``.

    Examples:
        ``plain(14620.3) == "14,620"``, ``plain(0.87184) == "0.8718"``,
        ``plain(0.85) == "0.85"``, ``plain(-3.0) == "-3"``.
    """
    if not math.isfinite(value):
        return str(float(value))
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = min(max(digits - 1 - magnitude, 0), max_decimals)
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def duration(seconds: float) -> str:
    """A duration as ``"45 s"``, ``"3 min 05 s"`` or ``"2 h 07 min"``."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
