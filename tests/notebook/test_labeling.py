"""The LabelingWidget and ``%scanflow label``: messages from the view go through a real session and a real
label store; what the view is told is saved is on disk."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from sklearn.linear_model import LogisticRegression

from scanflow_jupyter.active import LabelingSession, LabelStore
from scanflow_jupyter.errors import InvalidDataError, LabelValueError
from scanflow_jupyter.notebook import LabelingWidget

Digits = tuple[np.ndarray, np.ndarray]


@pytest.fixture
def session(digits: Digits, tmp_path: Path) -> LabelingSession:
    x, y = digits
    return LabelingSession(
        x[:300], LogisticRegression(max_iter=300), classes=range(10), name="digits", store=tmp_path / "l.db",
        annotator="ana", batch_size=6, holdout=(x[1500:], y[1500:]),
    )  # fmt: skip


def _send(widget: LabelingWidget, content: dict[str, Any]) -> None:
    widget._handle(widget, content, [])


def test_labels_from_the_view_are_on_disk_before_the_ack(session: LabelingSession, tmp_path: Path) -> None:
    widget = LabelingWidget(session, image_shape=(8, 8))
    assert widget.classes == [str(c) for c in range(10)] and widget.image_shape == [8, 8]
    assert len(widget.items) == 6 and len(widget.items[0]["pixels"]) == 64
    first, second = widget.items[0]["id"], widget.items[1]["id"]
    _send(widget, {"event": "label", "ids": [first, second], "label": "3"})
    assert widget.acked == {first: "3", second: "3"} and widget.error == ""
    assert LabelStore(tmp_path / "l.db").labels("digits") == {first: "3", second: "3"}  # another connection
    assert widget.progress["labeled"] == 2
    _send(widget, {"event": "undo"})
    assert widget.acked == {first: "3"}
    revision = widget.revision
    _send(widget, {"event": "label", "ids": ["not-shown"], "label": "3"})
    assert "not in the batch shown" in widget.error and widget.revision == revision + 1
    _send(widget, {"event": "label", "ids": [second], "label": "eleven"})
    assert "'eleven' is not a class of session 'digits'" in widget.error


def test_a_finished_batch_brings_the_next_and_the_model_retrains(session: LabelingSession, digits: Digits) -> None:
    _, y = digits
    widget = LabelingWidget(session, image_shape=(8, 8))
    seen: set[str] = set()
    for _ in range(5):
        batch = [item["id"] for item in widget.items]
        assert not seen & set(batch)
        seen |= set(batch)
        for sample_id in batch:
            _send(widget, {"event": "label", "ids": [sample_id], "label": str(int(y[int(sample_id)]))})
    session.wait()
    assert session.version >= 1 and widget.curve and widget.status.startswith("model version")
    _send(widget, {"event": "skip", "id": widget.items[0]["id"]})
    _send(widget, {"event": "add_class", "name": "smudge"})
    assert widget.classes[-1] == "smudge"
    text = widget._repr_mimebundle_()["text/plain"]
    assert text.startswith("labeling session 'digits': 30 of 300 labeled")


def test_labels_given_in_python_show_on_the_grid(session: LabelingSession) -> None:
    # Issue 19: after labels given through the Python API the grid still said "0 labeled" and showed them unlabeled.
    widget = LabelingWidget(session, image_shape=(8, 8), watch_interval=0)
    shown = [item["id"] for item in widget.items]
    session.label(shown[0], 4)
    assert widget.acked == {shown[0]: "4"}
    assert widget.progress["labeled"] == 1
    for sample_id in shown[1:]:
        session.label(sample_id, 1)
    assert not set(shown) & {item["id"] for item in widget.items}  # all labeled: the next batch is shown
    assert widget.progress["labeled"] == len(shown)


def test_labels_from_another_annotator_redraw_the_grid(session: LabelingSession, tmp_path: Path) -> None:
    widget = LabelingWidget(session, image_shape=(8, 8), watch_interval=0.05)
    shown = {item["id"] for item in widget.items}
    target = next(str(i) for i in range(300) if str(i) not in shown)  # bea cannot take what ana holds
    other = LabelStore(tmp_path / "l.db")  # another connection: another process, another annotator
    other.add_label("digits", target, "7", annotator="bea")
    deadline = time.monotonic() + 30
    while widget.progress["labeled"] != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert widget.progress["labeled"] == 1
    widget.close()
    assert widget._watcher is not None
    widget._watcher.join(timeout=10)
    assert not widget._watcher.is_alive()


def test_a_grid_opened_on_a_store_with_labels_counts_them(session: LabelingSession, tmp_path: Path) -> None:
    ids = [str(i) for i in range(120)]
    session.store.open_session("digits", [str(c) for c in range(10)])
    for sample_id in ids[:120]:
        session.store.add_label("digits", sample_id, "1", annotator="earlier")
    widget = LabelingWidget(session, image_shape=(8, 8), watch_interval=0)
    assert widget.progress["labeled"] == 120
    assert not set(ids) & {item["id"] for item in widget.items}


def test_next_batch_is_full_after_a_batch_left_half_done(session: LabelingSession) -> None:
    # Issue 19: "Next batch" first returned 2 cards (the open samples of the batch before).
    widget = LabelingWidget(session, image_shape=(8, 8), watch_interval=0)
    shown = [item["id"] for item in widget.items]
    _send(widget, {"event": "label", "ids": shown[:4], "label": "3"})
    _send(widget, {"event": "next"})
    ids = [item["id"] for item in widget.items]
    assert len(ids) == 6 and ids[:2] == shown[4:] and not set(ids) & set(shown[:4])
    assert widget.progress["queued"] == 6


def test_cards_say_why_in_words_and_the_model_guess(session: LabelingSession, digits: Digits) -> None:
    # Issue 19: the cards read "cluster 0 · distance 0.9403" and "margin 0.9953 · typicality 0.4892", no guess.
    _, y = digits
    widget = LabelingWidget(session, image_shape=(8, 8), watch_interval=0)
    first = widget.items[0]
    assert first["reason"].startswith("A typical sample of one group of similar ones") and "guess" not in first
    while session.version == 0:
        for item in list(widget.items):
            _send(widget, {"event": "label", "ids": [item["id"]], "label": str(int(y[int(item["id"])]))})
        session.wait()
    _send(widget, {"event": "next"})
    reasons = {item["reason"].split(":")[0] for item in widget.items}
    assert reasons <= {
        "The model is unsure",
        "A typical sample of one group of similar ones (the first batches cover every group)",
    }
    guess = widget.items[0]["guess"]
    predicted = session.model.predict(session.x[[int(widget.items[0]["id"])]])[0]
    assert guess.startswith(f"{predicted} (") and guess.endswith("%)")


def test_bad_image_shape(session: LabelingSession) -> None:
    with pytest.raises(InvalidDataError, match=r"image_shape \(7, 7\) does not fit samples of shape \(64,\)"):
        LabelingWidget(session, image_shape=(7, 7))


def test_label_magic_starts_and_resumes_a_session(
    shell: InteractiveShell, sf: Callable[[str], Any], digits: Digits, tmp_path: Path
) -> None:
    x, y = digits
    shell.user_ns.update(pool=x[:200], model=LogisticRegression(max_iter=300), xt=x[1500:], yt=y[1500:])
    widget = sf("label pool model --classes 0,1,2,3,4,5,6,7,8,9 --name d --holdout xt,yt --image-shape 8x8")
    assert isinstance(widget, LabelingWidget) and widget.session.store.path.endswith(".scanflow/labels.db")
    first = widget.items[0]["id"]
    _send(widget, {"event": "label", "ids": [first], "label": str(int(y[int(first)]))})
    again = sf("label pool model --classes 0,1,2,3,4,5,6,7,8,9 --name d --holdout xt,yt")
    assert again.session.labels() == {first: int(y[int(first)])}
    shell.user_ns["s"] = again.session
    assert sf("label s").session is again.session


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("label nothing", r"no variable 'nothing' \(the pool, or a LabelingSession\)"),
        ("label pool", r"'pool' is not a LabelingSession, so give the model too"),
        ("label pool model", r"name the classes to label with --classes"),
        ("label pool model --classes a,b --holdout xt", r"--holdout takes two variables, X,Y"),
        ("label pool model --classes a,b --ranker smart", r"argument --ranker: invalid choice: 'smart'"),
        ("label pool model --classes a,b --budget 999", r"a budget of 999 labels is more than the pool holds"),
        ("label broken model --classes a,b", r"the pool has NaN or infinite values in 1 of 20 samples \(rows 4\)"),
    ],
)
def test_label_magic_bad_input(shell: InteractiveShell, sf: Callable[[str], Any], line: str, match: str) -> None:
    pool = np.random.default_rng(0).random((20, 4))
    broken = pool.copy()
    broken[4, 1] = np.inf
    shell.user_ns.update(pool=pool, broken=broken, model=LogisticRegression(), xt=pool)
    with pytest.raises(UsageError, match=match):
        sf(line)


def test_a_scanflow_error_shows_as_one_line(shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    result = shell.run_cell(
        "from scanflow_jupyter.errors import LabelValueError\nraise LabelValueError('11 is no class')"
    )
    assert not result.success and isinstance(result.error_in_exec, LabelValueError)
    shown = capsys.readouterr()
    assert "LabelValueError: 11 is no class" in shown.out + shown.err
    assert "Traceback" not in shown.out + shown.err


def test_label_magic_registers_each_retrain_and_trains_through_modal(
    shell: InteractiveShell, sf: Callable[[str], Any], digits: Digits, tmp_path: Path
) -> None:
    import mlflow
    from modAL.models import ActiveLearner

    x, y = digits
    before = os.environ.get("MLFLOW_TRACKING_URI")  # None: unset again afterwards
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        shell.user_ns.update(pool=x[:200], model=LogisticRegression(max_iter=300), xt=x[1500:], yt=y[1500:])
        widget = sf("label pool model --classes 0,1,2,3,4,5,6,7,8,9 --name m --holdout xt,yt --register dg --modal")
        for _ in range(2):
            for item in list(widget.items):
                widget.session.label(item["id"], int(y[int(item["id"])]))
            widget.session.next_batch()
        widget.session.retrain(wait=True)
        widget.session.close()
        versions = mlflow.MlflowClient().search_model_versions("name = 'dg'")
    finally:
        mlflow.set_tracking_uri(before)
    assert isinstance(widget.session.model, ActiveLearner)
    assert len(versions) >= 1 and widget.session.tracking_error is None
