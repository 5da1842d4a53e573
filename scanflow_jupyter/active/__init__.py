"""Active learning: rankers, labeling sessions and a durable label store.

Importing this package imports NumPy (and the checker's data checks) only; scikit-learn, modAL and pandas load
when a ranker ranks, a model retrains or labels are exported.

Example
-------
>>> from scanflow_jupyter.active import LabelingSession
>>> session = LabelingSession(pool, LogisticRegression(max_iter=500), classes=range(10),
...                           holdout=(x_test, y_test))                         # doctest: +SKIP
>>> for sample in session.next_batch():                                        # doctest: +SKIP
...     session.label(sample.id, ask_a_person(sample))
"""

from __future__ import annotations

from .rankers import (
    HybridRanker,
    NoveltyRanker,
    Pick,
    RandomRanker,
    Ranker,
    UncertaintyRanker,
    make_ranker,
    seed_indices,
)
from .session import CurvePoint, LabelingSession, Sample
from .step import labeling_node, queue_flagged
from .store import LabelRecord, LabelStore

__all__ = [
    "CurvePoint",
    "HybridRanker",
    "LabelRecord",
    "LabelStore",
    "LabelingSession",
    "NoveltyRanker",
    "Pick",
    "RandomRanker",
    "Ranker",
    "Sample",
    "UncertaintyRanker",
    "labeling_node",
    "make_ranker",
    "queue_flagged",
    "seed_indices",
]
