"""Export as Python: the code rebuilds an equal application."""

from __future__ import annotations

from pathlib import Path

from scanflow_jupyter.workflow import Application, Executor, Parameter, Resources, Service, Tracker, Workflow, load
from scanflow_jupyter.workflow.pycode import to_python

ROOT = Path(__file__).resolve().parents[2]


def _rebuild(code: str) -> Application:
    namespace: dict[str, object] = {}
    exec(code, namespace)
    app = namespace["app"]
    assert isinstance(app, Application)
    return app


def test_example_round_trips_through_python() -> None:
    app = load(ROOT / "examples" / "tabular")
    rebuilt = _rebuild(to_python(app))
    assert rebuilt == app and rebuilt.folder == app.folder


def test_every_kind_of_field_round_trips() -> None:
    app = Application(
        name="all",
        tracker=Tracker(uri="http://127.0.0.1:5000"),
        requirements=["numpy"],
        workflows=[
            Workflow(
                name="batch",
                nodes=[
                    Executor(
                        name="a",
                        function="m:f",
                        parameters={"p": Parameter(type="path", default="x", help="h"), "b": True},
                        env={"K": "V"},
                        resources=Resources(cpu="500m", memory="1Gi"),
                        retries=2,
                        timeout=3.5,
                        outputs=["o.csv"],
                        cache=False,
                        isolated=True,
                    ),
                    Workflow(name="inner", depends_on=["a"], nodes=[Executor(name="b", script="b.py")]),
                ],
            ),
            Workflow(name="serve", kind="online", nodes=[Service(name="s", model_uri="models:/m/1", port=9000)]),
        ],
    )
    assert _rebuild(to_python(app)) == app
