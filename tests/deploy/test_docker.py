"""The Docker backend on a real engine: build, run the example in containers with the MLflow run tree of a
local run, serve a model and call predict, export and validate the compose file, deploy a swarm stack,
clean up and show by label that nothing of ours is left; and the bad inputs.

In CI (CI=true) a missing engine fails these tests; elsewhere they are skipped. Images are built once per
application; the lifecycle is one test so two pytest-xdist workers never share an application.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from scanflow_jupyter.deploy.base import Deployed
from scanflow_jupyter.deploy.docker import DockerApp, SwarmApp
from scanflow_jupyter.errors import ImageBuildError, PortInUseError, StepFailedError, StepTimeoutError
from scanflow_jupyter.workflow import load

from .conftest import BASE_IMAGE, copy_tabular, with_service

pytestmark = [pytest.mark.docker, pytest.mark.slow]
STEPS = {"gather", "preprocess", "modeling", "modeling/linear", "modeling/forest", "evaluate"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_tree(uri: str, experiment: str) -> set[tuple[str, str]]:
    """(run name, parent run name) for every run of the latest workflow run of ``experiment``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None
    runs = client.search_runs([exp.experiment_id], max_results=500)
    tops = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    top = max(tops, key=lambda r: r.info.start_time)
    by_id = {r.info.run_id: r for r in runs}
    tree = set()
    for r in runs:
        chain, parent = [], r.data.tags.get("mlflow.parentRunId")
        while parent and parent in by_id:
            chain.append(parent)
            parent = by_id[parent].data.tags.get("mlflow.parentRunId")
        if chain and chain[-1] == top.info.run_id:
            tree.add((r.info.run_name, by_id[chain[0]].info.run_name if chain[0] != top.info.run_id else "WORKFLOW"))
    return tree


@pytest.mark.timeout(1800)
@pytest.mark.engine_wide  # `docker swarm init` / `leave`: no other test may have a network on the engine meanwhile
def test_the_example_lives_its_whole_life_in_docker(engine: Any, tmp_path: Path) -> None:
    import mlflow
    from click.testing import CliRunner
    from sklearn.linear_model import LogisticRegression

    from scanflow_jupyter.cli import main
    from scanflow_jupyter.engine import run as local_run

    port = free_port()
    app = with_service(load(copy_tabular(tmp_path / "docker" / "tabular")), port=port)
    app.name = "dk-tabular"  # notebooks/docker.ipynb deploys 'tabular', maybe at the same time
    app.save()  # the CLI deploys the swarm stack from the folder
    deployment = DockerApp(app, base_image=BASE_IMAGE)
    bystander = engine.containers.create(BASE_IMAGE, ["true"], name=f"not-ours-{port}")  # cleanup must keep it
    try:
        builds: list[Any] = []
        logs: list[tuple[str, str, str]] = []
        result = deployment.run("pipeline", workers=2, on_progress=builds.append, on_log=lambda *a: logs.append(a))
        assert result.status == "succeeded"
        ready = {e.node for e in builds if e.status in ("built", "cached")}
        assert ready == {"runtime", "tracker", *(STEPS - {"modeling"})}
        if any(e.status == "built" for e in builds):  # a cold build streamed its progress
            assert any(e.step and e.total and e.line.startswith("Step ") for e in builds)
        assert ("gather", "stdout", "gather: 500 rows x 6 columns -> work/gathered.csv") in logs

        # The same MLflow run tree as a local run of the same application.
        uri = deployment.tracker_uri()
        assert uri is not None
        docker_tree = run_tree(uri, "dk-tabular")
        local_app = load(copy_tabular(tmp_path / "local" / "tabular"))
        local_run(local_app, "pipeline", workers=2)
        local_tree = run_tree(f"sqlite:///{local_app.folder}/.scanflow/mlflow.db", "tabular")
        assert docker_tree == local_tree
        assert {name for name, _ in docker_tree} == STEPS
        tracker = mlflow.MlflowClient(uri)
        experiment = tracker.get_experiment_by_name("dk-tabular")
        assert experiment is not None
        gather = tracker.search_runs([experiment.experiment_id], "attributes.run_name = 'gather'")[0]
        assert gather.data.metrics["n_rows"] == 500  # the step's own mlflow.start_run() landed in its run
        # Its output reached the tracker's artifact store (served by the tracker, not this machine's files).
        logs = tracker.download_artifacts(gather.info.run_id, "logs/stdout.txt", str(tmp_path))
        assert "gather: 500 rows x 6 columns" in Path(logs).read_text()

        # A warm re-run builds nothing, and reuses every step's result (the image is part of the cache key).
        again: list[Any] = []
        rerun = deployment.run("pipeline", workers=2, on_progress=again.append)
        assert {e.status for e in again} == {"cached"}
        assert {s.value for s in rerun.states.values()} == {"cached"}

        # Serve a model registered in the tracker and call predict.
        mlflow.set_tracking_uri(uri)
        rows = [[0.1, 0.2, 0.3, 0.4, 0.5], [1.0, -1.0, 0.5, 0.0, 2.0]]
        with mlflow.start_run(run_name="register"):
            model = LogisticRegression().fit(rows * 2, [0, 1, 0, 1])
            mlflow.sklearn.log_model(model, name="model", registered_model_name="tabular-linear")
        endpoint = deployment.serve("predictor")
        assert endpoint.port == port
        assert deployment.predict("predictor", rows) == [0, 1]
        with pytest.raises(PortInUseError, match=rf"Port {port} is already in use on this machine.*port=N"):
            deployment.serve("predictor")  # the running service holds it

        status = deployment.status()
        roles = {c.role for c in status.of("container")}
        assert roles == {"tracker", "service"} and "scanflow-dk-tabular-work" in status.names("volume")

        # The compose file is valid for docker-compose.
        compose = tmp_path / "compose.yaml"
        deployment.compose(compose)
        check = subprocess.run(["docker-compose", "-f", str(compose), "config", "-q"], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr

        # The swarm stack serves the same registered model.
        swarm = engine.info()["Swarm"]["LocalNodeState"]
        if swarm != "active":
            subprocess.run(
                ["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"], check=True, capture_output=True
            )
        try:
            stack = tmp_path / "stack.yaml"
            args = ["deploy", str(app.folder), "--to", "swarm", "--base-image", BASE_IMAGE, "-o", str(stack)]
            deployed = CliRunner().invoke(main, args)
            assert deployed.exit_code == 0, deployed.output
            assert sorted(deployed.stdout.splitlines()) == [
                "scanflow-dk-tabular_predictor\t1/1",
                "scanflow-dk-tabular_tracker\t1/1",
            ]
            assert deployment.replicas() == {
                "scanflow-dk-tabular_tracker": "1/1",
                "scanflow-dk-tabular_predictor": "1/1",
            }
            # The stack is a deployment of its own: its status, its tracker and service on the stack's network,
            # and its stop, which keeps the volumes (the tracker's runs and models).
            on_swarm = SwarmApp(app, base_image=BASE_IMAGE)
            volumes = on_swarm.status().names("volume")
            assert [(o.name, o.status) for o in on_swarm.status().of("swarm service")] == [
                ("scanflow-dk-tabular_predictor", "1/1"),
                ("scanflow-dk-tabular_tracker", "1/1"),
            ]
            assert on_swarm.tracker_uri() == "http://tracker:5000"
            assert on_swarm.serve("predictor").url == f"http://predictor:{port}"
            listed = CliRunner().invoke(main, ["swarm", "status", str(app.folder)])
            assert "swarm service scanflow-dk-tabular_predictor: 1/1" in listed.stdout, listed.output
            stopped = CliRunner().invoke(main, ["swarm", "stop", str(app.folder)])
            assert sorted(stopped.stdout.splitlines()) == [
                "removed scanflow-dk-tabular_predictor",
                "removed scanflow-dk-tabular_tracker",
            ], stopped.output
            assert on_swarm.engine.replicas() == {} and on_swarm.tracker_uri() is None
            assert on_swarm.status().names("volume") == volumes and volumes
            # A stack publishes no port unless told (a swarm cannot publish on loopback only)...
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=10).close()
            # ...and with every interface asked for, it serves the same registered model.
            assert deployment.deploy_swarm(stack, publish="0.0.0.0") == deployment.replicas()
            assert deployment.predict("predictor", rows, port=port) == [0, 1]
            gone = deployment.cleanup()
            assert gone.of("swarm service")
        finally:
            try:
                deployment.cleanup()
            finally:
                if swarm != "active":
                    subprocess.run(["docker", "swarm", "leave", "--force"], check=True, capture_output=True)
    finally:
        deployment.cleanup()
        left = deployment.status()
        assert left.empty, str(left)
        for kind in ("containers", "images", "volumes", "networks"):
            assert getattr(engine, kind).list(filters={"label": "scanflow.app=dk-tabular"}) == []
        bystander.reload()  # still there: cleanup removes only what the application created
        bystander.remove()


def test_a_failing_step_reports_its_logs(engine: Any, make_app: Callable[..., Any]) -> None:
    app = make_app(
        [
            {"name": "boom", "script": "step.py", "parameters": {"fail": "true"}},
            {"name": "slow", "script": "step.py", "parameters": {"sleep": 60.0}, "timeout": 3},
            {"name": "after", "script": "step.py", "depends_on": ["boom"]},
        ],
        name="dk-fail",
    )
    deployment = DockerApp(app, base_image=BASE_IMAGE)
    try:
        with pytest.raises(
            StepFailedError, match=r"(?s)Step 'boom' exited with code 3.*something went wrong in the step"
        ):
            deployment.run(workers=2)
        result = deployment.run(workers=2, check=False)
        assert {a: s.value for a, s in result.states.items()} == {
            "boom": "failed",
            "slow": "failed",
            "after": "skipped",
        }
        assert isinstance(result.errors["slow"], StepTimeoutError)
        assert "ran past its timeout of 3 s" in str(result.errors["slow"])
        assert deployment.status().of("container") == [
            Deployed("container", "scanflow-dk-fail-tracker", "running", "tracker", "tracker")
        ]  # the steps' containers are gone (the timed-out one stopped), their logs kept in the run
    finally:
        deployment.cleanup()
    assert deployment.status().empty


def test_a_custom_dockerfile_is_honoured(engine: Any, make_app: Callable[..., Any]) -> None:
    dockerfile = f"FROM {BASE_IMAGE}\nCOPY . /app\nRUN echo built-by-the-user > /built-by\nWORKDIR /app\n"
    app = make_app(
        [{"name": "own", "script": "step.py", "dockerfile": "Dockerfile.own", "parameters": {"x": 1}}],
        files={"Dockerfile.own": dockerfile},
        name="dk-custom",
    )
    deployment = DockerApp(app, base_image=BASE_IMAGE)
    logs: list[tuple[str, str, str]] = []
    try:
        result = deployment.run(on_log=lambda *a: logs.append(a))
        assert result.ok and ("own", "stdout", "done own") in logs
        image = deployment.client.images.get(deployment.build(tracker=False)["own"])
        assert "echo built-by-the-user > /built-by" in str(image.history())  # its own instruction
    finally:
        deployment.cleanup()


def test_a_requirement_missing_from_pypi_names_the_pip_line(engine: Any, make_app: Callable[..., Any]) -> None:
    app = make_app(
        [
            {"name": "good", "script": "step.py"},
            {"name": "bad", "script": "step.py", "requirements": ["scanflow-no-such-package-zz9==1.0"]},
        ],
        name="dk-badreq",
    )
    deployment = DockerApp(app, base_image=BASE_IMAGE)
    try:
        with pytest.raises(ImageBuildError, match=r"1 image did not build \(2 others did\)") as info:
            deployment.build(tracker=False)
        assert "ERROR: No matching distribution found for scanflow-no-such-package-zz9==1.0" in str(info.value)
        assert info.value.image.startswith("scanflow/dk-badreq-bad:")
        assert [i.split(":")[0] for i in deployment.status().names("image")] == ["scanflow/dk-badreq-good"]
        # The failed build left no untagged layer behind (it would carry no label, so clean-up would miss it).
        layers = re.findall(r"^ ---> ([0-9a-f]{12})$", info.value.log, re.M)
        assert layers
        for layer in layers:
            with contextlib.suppress(docker.errors.ImageNotFound):
                assert engine.images.get(layer).tags, f"layer {layer} of the failed build is left"
    finally:
        deployment.cleanup()


def test_cli_exports_a_compose_file_docker_compose_accepts(engine: Any, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scanflow_jupyter.cli import main

    folder = copy_tabular(tmp_path / "tabular")
    out = tmp_path / "compose.yaml"
    result = CliRunner().invoke(
        main, ["deploy", str(folder), "--to", "compose", "--base-image", BASE_IMAGE, "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    check = subprocess.run(["docker-compose", "-f", str(out), "config", "--services"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert sorted(check.stdout.split()) == [
        "evaluate",
        "gather",
        "modeling-forest",
        "modeling-linear",
        "preprocess",
        "tracker",
    ]


def test_cli_publishes_where_told_and_nowhere_else_by_default(engine: Any, tmp_path: Path) -> None:
    import yaml
    from click.testing import CliRunner

    from scanflow_jupyter.cli import main

    folder = str(copy_tabular(tmp_path / "tabular"))

    def deploy(*args: str) -> Any:
        return CliRunner().invoke(main, ["deploy", folder, "--base-image", BASE_IMAGE, *args])

    closed = deploy("--to", "compose")
    assert closed.exit_code == 0, closed.output
    assert yaml.safe_load(closed.output)["services"]["tracker"]["ports"] == ["127.0.0.1::5000"]
    opened = deploy("--to", "compose", "--publish", "0.0.0.0", "-o", str(tmp_path / "open.yaml"))
    assert opened.exit_code == 0, opened.output
    # The batch steps publish nothing and the tracker stays on this machine; only Service nodes open up.
    doc = yaml.safe_load((tmp_path / "open.yaml").read_text())
    assert doc["services"]["tracker"]["ports"] == ["127.0.0.1::5000"]
    assert all("ports" not in s for name, s in doc["services"].items() if name != "tracker")
    stack = deploy("--to", "stack")
    assert stack.exit_code == 0, stack.output
    assert all("ports" not in service for service in yaml.safe_load(stack.output)["services"].values())
    refused = deploy("--to", "stack", "--publish", "127.0.0.1")
    assert refused.exit_code == 2
    assert "A swarm stack cannot publish on '127.0.0.1'" in refused.output
    assert "Traceback" not in refused.output
