"""The labeling grid of a session: the Python model of ``labextension/src/widgets/labeling.ts``.

A batch is shown at once (images as thumbnails, with the checker's error heatmap when the session has a detector;
tabular rows as their values), each card saying in words why it was picked and, once there is a model, its
guess. The person labels with buttons or keys (the class itself when every class is one character, as on digits,
else 1-9; arrows, x to skip, z to undo), labels many at once with Shift-click, adds an "other / new class", and
watches the learning curve; a label already on disk is changed only by the same key twice. Every label is
committed to the session's store before the view is told (the ``acked`` trait), so what the grid shows as saved
is on disk.

Example
-------
>>> from scanflow_jupyter.notebook import LabelingWidget
>>> LabelingWidget(session, image_shape=(8, 8))      # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from traitlets import Dict, Int, List, Unicode

from ...active import LabelingSession, Sample
from ...errors import InvalidDataError, ScanflowError
from .base import ScanflowWidget
from .labeling_text import guesses, reason

__all__ = ["LabelingWidget"]

log = logging.getLogger(__name__)
MAX_FIELDS = 12  # tabular samples show their first (or most deviant) fields


class LabelingWidget(ScanflowWidget):
    """The labeling grid of ``session``.

    Parameters
    ----------
    session
        A :class:`~scanflow_jupyter.active.LabelingSession`.
    image_shape
        Draw samples as images of this (height, width): for images stored as flat vectors (the 8x8 digits).
        Samples of two axes are images anyway.
    feature_names
        Names of tabular features, shown beside their values.
    heatmaps
        Show the checker's reconstruction-error heatmap beside each image (needs the session's ``detector``).
    """

    _model_name = Unicode("LabelingModel").tag(sync=True)
    _view_name = Unicode("LabelingView").tag(sync=True)

    session_name = Unicode(help="The session's name.").tag(sync=True)
    annotator = Unicode(help="Who labels here.").tag(sync=True)
    classes = List(
        Unicode(), help="The class names, in key order (their own keys when one character each, else 1-9)."
    ).tag(sync=True)
    items = List(
        Dict(), help="The batch shown: id, pixels or fields, heatmap, why, reason, guess (see PROTOCOL.md)."
    ).tag(sync=True)
    image_shape = List(Int(), help="(height, width) of image samples; [] for tabular ones.").tag(sync=True)
    acked = Dict(help="Sample id -> label, for the batch's samples whose label is on disk.").tag(sync=True)
    progress = Dict(help="labeled, queued, budget, pool.").tag(sync=True)
    curve = List(Dict(), help="Learning curve points: labels, accuracy, version, series.").tag(sync=True)
    status = Unicode(help="A line about the model (retraining, version, accuracy).").tag(sync=True)
    error = Unicode(help="The last mistake, as a sentence ('' when none).").tag(sync=True)
    revision = Int(0, help="Incremented after every message handled: the view's sign that Python answered.").tag(
        sync=True
    )

    def __init__(
        self,
        session: LabelingSession,
        *,
        image_shape: Sequence[int] | None = None,
        feature_names: Sequence[str] | None = None,
        heatmaps: bool = True,
        watch_interval: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.session = session
        sample_shape = tuple(session.samples.shape[1:])
        self.image_shape = _image_shape(sample_shape, image_shape)
        self._feature_names = list(feature_names or [])
        self._heatmaps = heatmaps and session.detector is not None and bool(self.image_shape)
        self._lock = threading.RLock()
        self.session_name = session.name
        self.annotator = session.annotator
        self.classes = session.classes
        self.on_msg(self._handle)
        session.listeners.append(self._on_session)
        self._show(session.next_batch())
        self._refresh_model()
        # Labels given elsewhere (another annotator, another kernel on the same store) redraw the grid.
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        if watch_interval > 0:
            self._watcher = threading.Thread(
                target=self._watch_store, args=(watch_interval,), name="scanflow-label-watch", daemon=True
            )
            self._watcher.start()

    # -- Python -> view ----------------------------------------------------------------------------
    def _show(self, batch: list[Sample]) -> None:
        rows = np.array([s.index for s in batch], dtype=np.intp)
        heat = None
        if self._heatmaps and len(rows):
            try:
                heat = np.asarray(self.session.detector.feature_errors(self.session.samples[rows]))
            except ScanflowError as exc:  # a detector fitted on other data: the grid still works, without heatmaps
                log.warning("no heatmaps: %s", exc)
        guessed = guesses(self.session.model, self.session.x[rows])
        items = []
        for k, sample in enumerate(batch):
            flat = self.session.x[sample.index]
            why = {n: float(v) for n, v in sample.why.items()}
            item: dict[str, Any] = {"id": sample.id, "why": why, "reason": reason(why)}
            if guessed:
                item["guess"] = guessed[k]
            if self.image_shape:
                item["pixels"] = [float(v) for v in flat]
                if heat is not None:
                    item["heatmap"] = [float(v) for v in np.ravel(heat[k])]
            else:
                names = self._feature_names or [str(i) for i in range(len(flat))]
                item["fields"] = [[names[i], float(flat[i])] for i in range(min(MAX_FIELDS, len(flat)))]
            items.append(item)
        with self._lock:
            self.items = items
            self.acked = {}
        self._refresh_progress()

    def _refresh_progress(self) -> None:
        self.progress = self.session.progress()

    def _refresh_model(self) -> None:
        points = [p.__dict__ for p in self.session.curve]
        self.curve = points
        mine = [p for p in self.session.curve if p.series == "session"]
        if self.session.version == 0:
            self.status = "no model yet: the first labels seed every class"
        elif mine:
            self.status = (
                f"model version {self.session.version}: accuracy {mine[-1].accuracy:.1%} on the held-out set "
                f"after {mine[-1].labels} labels"
            )
        else:
            self.status = f"model version {self.session.version}"
        if self.session.tracking_error:
            self.status += f" ({self.session.tracking_error})"

    def _on_session(self, what: str) -> None:
        # Called from the retrain thread too: assigning synced traits from a thread is safe in ipywidgets 8.
        if what == "model":
            self._refresh_model()
        elif what == "labels":  # labels given through the Python API: the grid shows them
            self.sync_labels()

    def sync_labels(self) -> None:
        """Show the labels on disk: the batch's samples someone labeled (in Python, another annotator) show their
        label as saved, the progress counts them, and a batch labeled in full is followed by the next."""
        labels = self.session.store.labels(self.session.name)
        with self._lock:
            shown = [item["id"] for item in self.items]
            acked = {i: labels[i] for i in shown if i in labels}
            if acked != self.acked:
                self.acked = acked
            complete = bool(shown) and all(i in acked for i in shown)
        self._refresh_progress()
        if complete and not self.session.done:
            self._show(self.session.next_batch())

    def _watch_store(self, interval: float) -> None:
        seen = self.session.store.data_version()
        while not self._stop.wait(interval):
            try:
                version = self.session.store.data_version()
                if version != seen:
                    seen = version
                    self.sync_labels()
            except Exception:  # a closed store (the session ended): stop watching
                log.debug("label watch stopped", exc_info=True)
                return

    # -- view -> Python ----------------------------------------------------------------------------
    def _handle(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        event = content.get("event")
        try:
            self.error = ""
            if event == "label":
                self.label([str(i) for i in content.get("ids", [])], str(content.get("label", "")))
            elif event == "undo":
                self.undo()
            elif event == "skip":
                self.skip(str(content.get("id", "")))
            elif event == "next":
                self._show(self.session.next_batch())
            elif event == "retrain":
                self.status = "retraining in the background..."
                self.session.retrain()
            elif event == "add_class":
                self.classes = self.session.add_class(str(content.get("name", "")))
            else:
                self.error = f"unknown message {event!r} from the view"
        except ScanflowError as exc:
            self.error = str(exc)
        finally:
            self.revision += 1

    def label(self, ids: list[str], label: str) -> None:
        """Label samples of the batch (what the keys and buttons do); the next batch comes when all are done."""
        shown = {item["id"] for item in self.items}
        unknown = [i for i in ids if i not in shown]
        if unknown:
            raise InvalidDataError(f"samples {unknown} are not in the batch shown; label the samples on screen")
        # The session's "labels" event redraws: the labels acknowledged, the next batch once this one is done.
        self.session.label_many(ids, self.session.values.get(label, label))
        if self._on_session not in self.session.listeners:
            self.sync_labels()

    def undo(self) -> None:
        back = self.session.undo()
        if back is None:
            self.error = "nothing to undo: you have not labeled anything in this session yet"
            return
        with self._lock:
            if back.id in {item["id"] for item in self.items}:
                self.acked = {k: v for k, v in self.acked.items() if k != back.id}
            else:
                self._show(self.session.next_batch())  # the undone sample is claimed again: it comes back first
        self._refresh_progress()

    def skip(self, sample_id: str) -> None:
        self.session.skip(sample_id)
        with self._lock:
            self.items = [item for item in self.items if item["id"] != sample_id]
        if not self.items:
            self._show(self.session.next_batch())
        self._refresh_progress()

    def close(self) -> None:
        stop = getattr(self, "_stop", None)  # a widget whose __init__ failed has none
        if stop is not None:
            stop.set()
        if self._on_session in self.session.listeners:
            self.session.listeners.remove(self._on_session)
        super().close()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data: dict[str, Any] | None = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            p = self.session.progress()
            data["text/plain"] = (
                f"labeling session {self.session.name!r}: {p['labeled']} of {p['budget']} labeled, "
                f"{len(self.items)} shown; {self.status}"
            )
        return data


def _image_shape(sample_shape: tuple[int, ...], requested: Sequence[int] | None) -> list[int]:
    size = int(np.prod(sample_shape))
    if requested is not None:
        shape = [int(n) for n in requested]
        if len(shape) != 2 or shape[0] * shape[1] != size:
            raise InvalidDataError(
                f"image_shape {tuple(shape)} does not fit samples of shape {sample_shape} ({size} values): give "
                "(height, width) whose product is the number of values"
            )
        return shape
    if len(sample_shape) == 2:
        return [int(sample_shape[0]), int(sample_shape[1])]
    return []
