"""``%scanflow label``: open the labeling grid of a session.

``%scanflow label SESSION`` shows an existing :class:`~scanflow_jupyter.active.LabelingSession`;
``%scanflow label POOL MODEL --classes A,B,...`` starts (or, with the same ``--name``, resumes) one over the
variables ``POOL`` (an array) and ``MODEL`` (an unfitted classifier), storing labels in the application's
``.scanflow/labels.db`` (or the working directory's, with no application loaded). The widget's ``session``
attribute is the session (``w = %scanflow label ...; w.session.labels()``).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from ..active import LabelingSession
from ..workflow import Application
from .widgets import LabelingWidget

__all__ = ["label_command"]


def _variable(namespace: Mapping[str, Any], name: str, what: str) -> Any:
    if name not in namespace:
        raise UsageError(f"%scanflow label: no variable {name!r} ({what}); define it first, or check its spelling")
    return namespace[name]


def label_command(args: argparse.Namespace, namespace: Mapping[str, Any], app: Application | None) -> LabelingWidget:
    first = _variable(namespace, args.pool, "the pool, or a LabelingSession")
    if isinstance(first, LabelingSession):
        session = first
    else:
        if args.model is None:
            raise UsageError(
                f"%scanflow label: {args.pool!r} is not a LabelingSession, so give the model too: "
                "%scanflow label POOL MODEL --classes A,B,..."
            )
        if not args.classes:
            raise UsageError("%scanflow label: name the classes to label with --classes, e.g. --classes cat,dog")
        model = _variable(namespace, args.model, "the model to train")
        holdout = None
        if args.holdout:
            x_name, _, y_name = args.holdout.partition(",")
            if not y_name:
                raise UsageError("%scanflow label: --holdout takes two variables, X,Y (the held-out samples, labels)")
            holdout = (
                _variable(namespace, x_name, "held-out samples"),
                _variable(namespace, y_name, "held-out labels"),
            )
        detector = _variable(namespace, args.detector, "a fitted detector") if args.detector else None
        folder = app.folder if app is not None and app.folder is not None else Path.cwd()
        store = args.store or folder / ".scanflow" / "labels.db"
        session = LabelingSession(
            first,
            model,
            classes=[_number(c) for c in args.classes.split(",") if c.strip()],
            name=args.name,
            ranker=args.ranker,
            store=store,
            annotator=args.annotator,
            batch_size=args.batch,
            budget=args.budget,
            holdout=holdout,
            detector=detector,
            registered_model=args.register,
            fit="modal" if args.modal else None,
        )
    return LabelingWidget(session, image_shape=args.image_shape)


def _number(text: str) -> Any:
    """'3' -> 3, so labels compare with a holdout's integer classes; other names stay text."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return text
