"""Small values between steps (issue 17, item 3): step.output/step.input, ${STEP.NAME} parameters, a function's
return value, their records in MLflow, and their way back from MLflow for a cache hit or a resume. Real runs of
small applications, each with its own SQLite MLflow store under tmp_path."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

import scanflow_jupyter as sf
from scanflow_jupyter import step as step_api
from scanflow_jupyter.cli import main
from scanflow_jupyter.engine import NodeState, list_runs
from scanflow_jupyter.errors import (
    DuplicateOutputError,
    StepFailedError,
    StepValueError,
    UnknownValueError,
    ValueNotJSONError,
    ValueTooLargeError,
    WorkflowValidationError,
)

from ..conftest import EXAMPLES

GATHER = """
import json, math, os, sys
from scanflow_jupyter import step

opts = dict(zip(sys.argv[1::2], sys.argv[2::2]))
mode = opts.get("--mode", "ok")
count = int(open("count.txt").read()) if os.path.exists("count.txt") else 340
step.output("n_rows", count)
step.output("names", ["a", "b"])
if mode == "dup":
    step.output("n_rows", 1)
elif mode == "nan":
    step.output("score", math.nan)
elif mode == "object":
    step.output("model", object())
elif mode == "big":
    step.output("table", "x" * (70 * 1024))
"""

TRAIN = """
import json, os, sys
from scanflow_jupyter import step

if os.path.exists("break"):
    sys.exit("broken on purpose")
opts = dict(zip(sys.argv[1::2], sys.argv[2::2]))
n = step.input(opts.get("--read", "gather.n_rows"))
os.makedirs("out", exist_ok=True)
with open("out/train.json", "w") as fh:
    json.dump({"argv": sys.argv[1:], "n": n}, fh)
step.output("accuracy", 0.9)
"""

TASKS = """
def count(rows: int) -> dict:
    return {"total": rows + 1}

def answer():
    return 42

def nothing():
    return None

def model():
    return object()  # a function that returns what is not JSON, as many did before values were carried
"""


def nodes(train_params: dict[str, Any] | None = None, **gather: Any) -> list[dict[str, Any]]:
    return [
        {"name": "gather", "script": "gather.py", **gather},
        {
            "name": "train",
            "script": "train.py",
            "depends_on": ["gather"],
            "parameters": train_params
            if train_params is not None
            else {"rows": {"type": "int", "default": "${gather.n_rows}"}, "tag": "x"},
        },
    ]


@pytest.fixture
def values_app(make_app: Callable[..., Any]) -> Callable[..., Any]:
    def make(node_list: list[dict[str, Any]] | None = None, **kw: Any) -> Any:
        files = {"gather.py": GATHER, "train.py": TRAIN, "tasks.py": TASKS}
        return make_app(node_list if node_list is not None else nodes(), files=files, name="values", **kw)

    return make


def trained(app: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((app.folder / "out" / "train.json").read_text())
    return data


def client_for(app: Any) -> MlflowClient:
    return MlflowClient(f"sqlite:///{app.folder / '.scanflow' / 'mlflow.db'}")


def test_values_reach_parameters_and_inputs_and_are_tracked(values_app: Callable[..., Any]) -> None:
    app = values_app()
    result = sf.run(app)
    assert set(result.states.values()) == {NodeState.SUCCEEDED}
    out = trained(app)
    assert out["argv"] == ["--rows", "340", "--tag", "x"] and out["n"] == 340

    client = client_for(app)
    gather = client.get_run(result.state.nodes["gather"].mlflow_run_id)
    assert gather.data.params["output.n_rows"] == "340"
    assert "output.names" not in gather.data.params  # a list: in the artifact only
    train = client.get_run(result.state.nodes["train"].mlflow_run_id)
    assert train.data.params["rows"] == "340" and train.data.params["output.accuracy"] == "0.9"

    past = sf.latest_run(app)
    assert past.run_id == result.run_id and past.status == "finished"
    assert past["gather"].outputs.value("n_rows") == 340
    assert dict(past["gather"].outputs) == {"n_rows": 340, "names": ["a", "b"]}
    assert past["train"].outputs.read == {"gather.n_rows": 340}
    assert past["train"].outputs.value("accuracy") == 0.9
    with pytest.raises(
        UnknownValueError, match=r"Step 'gather' gave no value 'nope' in this run \(it gave: n_rows, names\)"
    ):
        past["gather"].outputs.value("nope")


def test_a_function_steps_return_value_is_its_output(values_app: Callable[..., Any]) -> None:
    app = values_app(
        [
            {"name": "fit", "function": "tasks:count", "parameters": {"rows": 4}},
            {"name": "answer", "function": "tasks:answer"},
            {"name": "idle", "function": "tasks:nothing"},
            {
                "name": "train",
                "script": "train.py",
                "depends_on": ["fit", "answer", "idle"],
                "parameters": {"rows": "${fit.total}-${answer.result}", "read": "answer.result"},
            },
        ]
    )
    sf.run(app, tracking=False)
    out = trained(app)
    assert out["argv"][:2] == ["--rows", "5-42"] and out["n"] == 42


def test_a_function_returning_what_is_not_json_still_succeeds_and_says_it_is_not_passed_on(
    values_app: Callable[..., Any],
) -> None:
    app = values_app([{"name": "fit", "function": "tasks:model"}])
    result = sf.run(app, tracking=False)
    assert result.states == {"fit": NodeState.SUCCEEDED}
    stderr = (result.state.log_dir("fit") / "stderr.txt").read_text()
    assert "the function's return value is not passed on to the steps after it" in stderr
    assert "Value 'result' is not JSON" in stderr
    app = values_app(
        [
            {"name": "fit", "function": "tasks:model"},
            {"name": "train", "script": "train.py", "depends_on": ["fit"], "parameters": {"read": "fit.result"}},
        ]
    )
    with pytest.raises(StepFailedError, match=r"(?s)UnknownValueError: 'fit.result': step 'fit' gave no value"):
        sf.run(app, tracking=False)


def test_a_cache_hit_takes_its_values_back_from_mlflow(values_app: Callable[..., Any]) -> None:
    app = values_app()
    first = sf.run(app)
    shutil.rmtree(first.state.dir / "values")  # only MLflow has gather's values now
    second = sf.run(app, params={"train.tag": "y"})
    assert second.states == {"gather": NodeState.CACHED, "train": NodeState.SUCCEEDED}
    assert trained(app)["n"] == 340 and trained(app)["argv"][:2] == ["--rows", "340"]
    # The cached step's record was restored into the new run's folder, and its MLflow run shows the value.
    kept = json.loads((second.state.dir / "values" / "gather" / "values.json").read_text())
    assert kept["outputs"]["n_rows"] == 340
    cached = client_for(app).get_run(second.state.nodes["gather"].mlflow_run_id)
    assert cached.data.params["output.n_rows"] == "340"
    assert sf.latest_run(app)["gather"].outputs.value("n_rows") == 340  # through scanflow.cached_from


def test_a_resume_takes_the_upstream_values_back_from_mlflow(values_app: Callable[..., Any]) -> None:
    app = values_app()
    (app.folder / "break").write_text("")
    failed = sf.run(app, check=False)
    assert failed.states == {"gather": NodeState.SUCCEEDED, "train": NodeState.FAILED}
    (app.folder / "break").unlink()
    shutil.rmtree(failed.state.dir / "values" / "gather")
    resumed = sf.resume(app, failed.run_id)
    assert resumed.ok and trained(app)["n"] == 340 and trained(app)["argv"][:2] == ["--rows", "340"]


def test_a_changed_upstream_value_runs_the_downstream_step_again(values_app: Callable[..., Any]) -> None:
    app = values_app(nodes(cache=False))
    sf.run(app, tracking=False)
    (app.folder / "count.txt").write_text("7")  # gather is not cached and now gives another value
    again = sf.run(app, tracking=False)
    assert again.states["train"] is NodeState.SUCCEEDED  # not CACHED: its upstream value changed
    assert trained(app)["n"] == 7
    third = sf.run(app, tracking=False)
    assert third.states["train"] is NodeState.CACHED


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (
            "${gahter.n_rows}",
            r"main/train.rows: \$\{gahter.n_rows\} names step 'gahter', which is not in workflow "
            r"'main'; did you mean 'gather'\?",
        ),
        (
            "${report.n_rows}",
            r"main/train.rows: \$\{report.n_rows\} names step 'report', which is not upstream of "
            r"'train', .*add 'report' to the depends_on of 'train'",
        ),
        ("${gather}", r"main/train.rows: \$\{gather\} is not a value reference; write \$\{STEP.NAME\}"),
    ],
    ids=["unknown step", "not upstream", "no value name"],
)
def test_bad_references_are_refused_before_the_run(
    values_app: Callable[..., Any], reference: str, message: str
) -> None:
    node_list = [*nodes({"rows": reference}), {"name": "report", "script": "gather.py"}]
    with pytest.raises(WorkflowValidationError, match=message):
        values_app(node_list).validate()


def test_a_reference_to_a_value_no_one_gave_fails_the_step_by_name(values_app: Callable[..., Any]) -> None:
    app = values_app(nodes({"rows": "${gather.n_row}"}))
    with pytest.raises(
        UnknownValueError, match=r"'gather.n_row': step 'gather' gave no value 'n_row' \(it gave: n_rows, names\)"
    ):
        sf.run(app, tracking=False)
    result = sf.run(app, tracking=False, check=False)
    assert result.states == {"gather": NodeState.CACHED, "train": NodeState.FAILED}
    assert not (app.folder / "out" / "train.json").exists()


def test_a_value_of_the_wrong_type_for_its_parameter_is_named(values_app: Callable[..., Any]) -> None:
    app = values_app(nodes({"rows": {"type": "int", "default": "${gather.names}"}}))
    with pytest.raises(StepValueError, match=r"Parameter train.rows = '\$\{gather.names\}' expects an int"):
        sf.run(app, tracking=False)


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("dup", r"DuplicateOutputError: Step 'gather' gives the output 'n_rows' twice"),
        ("nan", r"ValueNotJSONError: Value 'score' is not JSON .*declare the file under the step's 'outputs:'"),
        ("object", r"ValueNotJSONError: Value 'model' is not JSON \(object"),
        ("big", r"ValueTooLargeError: Value 'table' is 71,682 bytes as JSON, over the 64 KiB cap .*'outputs:'"),
    ],
)
def test_bad_outputs_fail_the_step_that_gives_them(values_app: Callable[..., Any], mode: str, message: str) -> None:
    app = values_app(nodes(parameters={"mode": mode}))
    with pytest.raises(StepFailedError, match=f"(?s){message}") as caught:
        sf.run(app, tracking=False)
    assert caught.value.node == "gather"


def test_an_input_no_upstream_step_gave_fails_the_step(values_app: Callable[..., Any]) -> None:
    app = values_app(nodes({"read": "gather.rows"}))
    with pytest.raises(StepFailedError, match=r"(?s)UnknownValueError: 'gather.rows': step 'gather' gave no value"):
        sf.run(app, tracking=False)
    app = values_app(nodes({"read": "other.rows"}))
    with pytest.raises(StepFailedError, match=r"'other' is not a step upstream of step 'train' \(upstream: gather\)"):
        sf.run(app, tracking=False)


def test_scanflow_show_prints_steps_parameters_and_values(values_app: Callable[..., Any]) -> None:
    app = values_app()
    ran = CliRunner().invoke(main, ["run", str(app.folder), "-q"])  # tracked through the journal, as a command is
    assert ran.exit_code == 0, ran.output
    shown = CliRunner().invoke(main, ["show", str(app.folder)])
    assert shown.exit_code == 0, shown.output
    text = shown.output
    assert f"latest run: {list_runs(app.folder)[0].run_id} (finished)" in text
    assert "step train  (train.py)" in text and "after:      gather" in text
    assert "param       rows = '${gather.n_rows}' (int)  -> 340" in text
    assert "input       gather.n_rows = 340" in text
    assert 'output      names = ["a", "b"]' in text and "output      accuracy = 0.9" in text
    bare = CliRunner().invoke(main, ["show", str(app.folder), "--no-run"])
    assert bare.exit_code == 0 and "latest run" not in bare.output and "output " not in bare.output


# -- the step's side, in this process -----------------------------------------------------------------
@pytest.fixture
def fresh_step(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (step_api.VALUES_ENV, step_api.NODE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(step_api, "_given", {})
    monkeypatch.setattr(step_api, "_read", {})
    monkeypatch.setattr(step_api, "_inputs", None)
    yield


@pytest.mark.usefixtures("fresh_step")
def test_outside_a_run_outputs_are_checked_and_kept_and_inputs_refused() -> None:
    step_api.output("n", (1, 2))
    step_api.output("n", 3)  # outside a run (a notebook trying the code), a name can be given again
    assert step_api.outputs() == {"n": 3}
    with pytest.raises(UnknownValueError, match=r"Outside 'scanflow run' there are no upstream values"):
        step_api.input("gather.n")
    with pytest.raises(ValueTooLargeError, match=r"over the 64 KiB cap"):
        step_api.output("big", list(range(20_000)))
    with pytest.raises(StepValueError, match=r"'n.rows' is not a valid value name"):
        step_api.output("n.rows", 1)


@pytest.mark.usefixtures("fresh_step")
def test_in_a_step_a_name_is_given_once_and_the_file_says_what_was_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / step_api.INPUTS_FILE).write_text(json.dumps({"node": "a/b", "values": {"a/c": {"x": 1}, "d": {}}}))
    monkeypatch.setenv(step_api.VALUES_ENV, str(tmp_path))
    monkeypatch.setenv(step_api.NODE_ENV, "a/b")
    assert step_api.input("c.x") == 1  # a sibling in the same nested workflow
    assert step_api.input("a/c.x") == 1  # a full address
    step_api.output("y", {"k": [1, None]})
    with pytest.raises(DuplicateOutputError, match=r"Step 'a/b' gives the output 'y' twice"):
        step_api.output("y", 2)
    with pytest.raises(ValueNotJSONError, match=r"Value 'z' is not JSON"):
        step_api.output("z", {1, 2})
    written = json.loads((tmp_path / step_api.OUTPUTS_FILE).read_text())
    assert written == {"outputs": {"y": {"k": [1, None]}}, "read": {"a/c.x": 1}}


@pytest.mark.usefixtures("fresh_step")
def test_a_step_on_a_backend_that_carries_no_values_is_told_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(step_api.NODE_ENV, "train")
    with pytest.raises(StepValueError, match=r"Step 'train' runs where scanflow does not carry values"):
        step_api.output("n", 1)


def test_the_values_example_runs_and_shows_its_values(tmp_path: Path, seed_store: Callable[[Path], None]) -> None:
    folder = tmp_path / "values"
    shutil.copytree(EXAMPLES / "values", folder, ignore=shutil.ignore_patterns("work", ".scanflow"))
    seed_store(folder)
    app = sf.load(folder)
    result = sf.run(app)
    assert result.ok
    past = sf.latest_run(app)
    assert past["gather"].outputs.value("n_rows") == 340
    assert past["scale"].params["rows"] == "340"
    summary = past["summary"].outputs
    assert summary.value("label") == "run-of-340" and summary.value("wide") is True
    assert summary.read == {"scale.spread": summary.value("spread")}


def test_a_values_record_that_cannot_be_written_is_named_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    from scanflow_jupyter.engine import values as dataflow
    from scanflow_jupyter.errors import StateWriteError

    folder = tmp_path / "values" / "fill"
    (folder / dataflow.RECORD_FILE).mkdir(parents=True)  # the rename over it fails, as a full disk's write would
    with pytest.raises(StateWriteError, match=r"Could not write the values of a step to .*values.json: .*free on"):
        dataflow.save(folder, dataflow.StepValues({"n": 1}))
    assert not list(tmp_path.rglob("*.tmp"))
