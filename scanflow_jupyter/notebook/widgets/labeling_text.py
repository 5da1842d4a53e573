"""What a labeling card says about its sample, in words: why it was picked, and the model's guess.

The ranker's score parts (``{"margin": 0.99, "typicality": 0.49}``, ``{"cluster": 0, "distance": 0.94}``) are for
the code; a person reads one sentence ("The model is unsure: its two likeliest classes are 1% apart"), with the
numbers in the card's tooltip. The control slice carries the ranker's own parts, so it reads like any other card.

Example
-------
>>> reason({"margin": 0.9953, "typicality": 0.4892})
'The model is unsure: its two likeliest classes are 0.5% apart'
>>> reason({"cluster": 0.0, "distance": 0.9403})
'A typical sample of one group of similar ones (the first batches cover every group)'
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["guesses", "reason"]

log = logging.getLogger(__name__)
TYPICAL = 0.5  # typicality on (0, 1]: from here on a sample "resembles many in the pool"


def _percent(value: float) -> str:
    share = max(0.0, min(1.0, value))
    return f"{share:.1%}" if share < 0.1 else f"{share:.0%}"


def reason(why: dict[str, float]) -> str:
    """Why a sample was picked, as one sentence ('' when nothing is known)."""
    parts: list[str] = []
    if "cluster" in why:
        parts.append("A typical sample of one group of similar ones (the first batches cover every group)")
    if "margin" in why:  # the ranker's margin part is 1 - (p1 - p2): higher is more unsure
        parts.append(f"The model is unsure: its two likeliest classes are {_percent(1.0 - why['margin'])} apart")
    if "least_confidence" in why:  # 1 - max probability
        parts.append(f"The model is unsure: its best guess has {_percent(1.0 - why['least_confidence'])}")
    if "entropy" in why:
        parts.append(f"The model is unsure between several classes (entropy {why['entropy']:.2f})")
    if "novelty" in why:
        parts.append("Unlike the data the checker knows")
    if "random" in why:
        parts.append("Picked at random")
    if parts and why.get("typicality", 0.0) >= TYPICAL:
        parts[-1] += "; it looks like many others"
    known = {"cluster", "distance", "margin", "least_confidence", "entropy", "novelty", "reconstruction", "latent"}
    known |= {"random", "typicality"}
    rest = [name for name in why if name not in known]
    if rest:  # e.g. a reason the checker gave when it flagged the sample in production
        parts.append("Flagged: " + ", ".join(rest))
    return "; ".join(parts)


def guesses(model: Any, x: npt.NDArray[np.float64]) -> list[str]:
    """The model's guess of each row, as "3 (87%)" ("3" without probabilities); [] without a model or when
    it cannot predict these rows."""
    if model is None or not len(x):
        return []
    try:
        proba = getattr(model, "predict_proba", None)
        if callable(proba):
            p = np.asarray(proba(x), dtype=np.float64)
            classes = list(model.classes_)
            best = p.argmax(axis=1)
            return [f"{classes[b]} ({p[i, b]:.0%})" for i, b in enumerate(best)]
        return [str(v) for v in model.predict(x)]
    except Exception as exc:  # a model that cannot predict: the cards show no guess
        log.debug("no guesses: %s", exc)
        return []
