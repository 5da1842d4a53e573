"""The Kubernetes backend from the terminal (``scanflow export --to kubernetes``, ``scanflow deploy --to
kubernetes``, ``scanflow kubernetes ...``) and from the notebook (``%scanflow deploy --to kubernetes`` and its
DeployPanel), against the stand-in of the API server reached through a kubeconfig file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from IPython.core.error import UsageError

from scanflow_jupyter.cli import main
from scanflow_jupyter.deploy.kubernetes.app import load_all
from scanflow_jupyter.notebook.widgets.deploy import DeployPanel

from ...notebook.conftest import _close_widgets, sf, shell
from ..conftest import copy_tabular, with_service
from .fakeapi import FakeAPI

__all__ = ["_close_widgets", "sf", "shell"]  # the notebook tests' shell fixtures, used here too


@pytest.fixture(autouse=True)
def ipython_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """IPython's profile and history under tmp_path, not ~/.ipython (autouse: set before ``shell`` makes the
    shell, when a test here is the first to)."""
    folder = tmp_path / "ipython"
    monkeypatch.setenv("IPYTHONDIR", str(folder))
    return folder


@pytest.fixture
def kubeconfig(fake: FakeAPI, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "stand-in", "cluster": {"server": fake.url}}],
                "users": [{"name": "me", "user": {"token": "t"}}],
                "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "me"}}],
                "current-context": "stand-in",
            }
        )
    )
    return path


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    from scanflow_jupyter.workflow import load

    folder = copy_tabular(tmp_path / "tabular")
    with_service(load(folder)).save()
    return folder


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_export_to_kubernetes_writes_the_manifests(app_dir: Path, tmp_path: Path) -> None:
    out = cli("export", app_dir, "--to", "kubernetes", "--tag", "v1", "--registry", "reg.example.org/ml")
    assert out.exit_code == 0, out.output
    docs = load_all(out.stdout)
    assert docs[0]["kind"] == "Namespace" and docs[-1]["kind"] == "Workflow"
    assert docs[-1]["spec"]["templates"][1]["container"]["image"] == "reg.example.org/ml/scanflow/tabular-gather:v1"
    out = cli("export", app_dir, "--to", "kubernetes", "--tag", "v1", "-o", tmp_path / "k8s")
    assert out.exit_code == 0, out.output
    assert "kubectl apply -f" in out.stderr
    assert (tmp_path / "k8s" / "argo" / "pipeline.yaml").is_file()
    assert len(list((tmp_path / "k8s").glob("*.yaml"))) == len(docs) - 1
    out = cli("export", app_dir, "--to", "kubernetes", "--tag", "v1", "--registry", "reg.example.org/ml",
              "-o", tmp_path / "all.yaml")  # fmt: skip
    assert out.exit_code == 0, out.output
    assert load_all((tmp_path / "all.yaml").read_text()) == docs  # a .yaml name is a file, not a folder


def test_deploy_run_status_logs_and_delete_from_the_terminal(app_dir: Path, kubeconfig: Path, fake: FakeAPI) -> None:
    common = ["--tag", "v1", "--kubeconfig", kubeconfig]
    out = cli("deploy", app_dir, "--to", "kubernetes", *common)
    assert out.exit_code == 0, out.output
    assert "tracker: http://tabular-tracker:5000" in out.stdout
    assert "predictor: http://tabular-predictor.scanflow-tabular:8080" in out.stdout
    out = cli("kubernetes", "run", app_dir, *common, "-p", "gather.rows=50")
    assert out.exit_code == 0, out.output
    assert "succeeded" in out.stderr
    out = cli("kubernetes", "status", app_dir, *common)
    assert "Deployment tabular-tracker: 1/1 ready" in out.stdout and "Workflow tabular-pipeline-" in out.stdout
    (workflow,) = [k[2] for k in fake.objects if k[0] == "workflows"]
    out = cli("kubernetes", "logs", app_dir, *common, "--node", "gather", "--run", workflow)
    assert "--rows 50" in out.stdout and "done gather" in out.stdout
    out = cli("kubernetes", "delete", app_dir, *common)
    assert out.exit_code == 0 and "Namespace scanflow-tabular: deleted" in out.stdout
    assert not fake.objects


def test_terminal_errors_say_what_to_do(app_dir: Path, tmp_path: Path, fake: FakeAPI, kubeconfig: Path) -> None:
    out = cli("kubernetes", "status", app_dir, "--kubeconfig", tmp_path / "nowhere")
    assert out.exit_code == 2 and "No kubeconfig at" in out.stderr
    fake.forbidden_namespaces.add("scanflow-tabular")
    out = cli("deploy", app_dir, "--to", "kubernetes", "--tag", "v1", "--kubeconfig", kubeconfig)
    assert out.exit_code == 2
    assert 'cannot patch resource "serviceaccounts"' in out.stderr and "kubectl auth can-i" in out.stderr
    out = CliRunner().invoke(
        main, ["kubernetes", "logs", str(app_dir), "--tail", "-5", "--kubeconfig", str(kubeconfig)]
    )
    assert out.exit_code == 2 and "Invalid value for '--tail': -5 is not in the range x>=0" in out.stderr


@pytest.fixture
def on_stand_in(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    yield


def test_the_magic_deploys_and_runs_with_the_panel(
    sf: Callable[[str], Any], app_dir: Path, on_stand_in: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sf(f"load {app_dir}")
    panel = sf("deploy --to kubernetes --tag v1")
    assert isinstance(panel, DeployPanel)
    assert (panel.app, panel.backend, panel.phase) == ("tabular", "kubernetes", "idle")
    assert sf("deploy --to kubernetes --tag v1") is panel
    sf("deploy start --to kubernetes --tag v1")
    assert panel.phase == "done" and panel.tracker == "http://tabular-tracker:5000"
    # The cluster's progress reaches the panel through the same callback as Docker's builds.
    assert panel.logs[0] == {"node": "", "stream": "deploy", "line": "applied Namespace scanflow-tabular"}
    result = sf("deploy run pipeline --to kubernetes --tag v1")
    assert result.ok and panel.nodes["modeling/forest"] == "succeeded"
    sf("deploy logs gather --to kubernetes --tag v1")
    assert "done gather" in capsys.readouterr().out
    sf("deploy cleanup --to kubernetes --tag v1")
    assert "Namespace scanflow-tabular: deleted" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("deploy compose --to kubernetes", r"compose files are for Docker"),
        ("deploy serve --to kubernetes", r"needs the service's name"),
        ("deploy logs", r"is for Kubernetes: add --to kubernetes"),
        ("deploy run --to kubernetes --engine spark", r"argument --engine: invalid choice: 'spark'"),
    ],
)
def test_magic_mistakes_are_usage_errors(sf: Callable[[str], Any], app_dir: Path, line: str, message: str) -> None:
    sf(f"load {app_dir}")
    with pytest.raises(UsageError, match=message):
        sf(line)


def test_the_magic_reports_a_missing_cluster(
    sf: Callable[[str], Any], app_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    sf(f"load {app_dir}")
    with pytest.raises(UsageError, match=r"No Kubernetes configuration"):
        sf("deploy status --to kubernetes --tag v1")
