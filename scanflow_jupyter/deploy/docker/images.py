"""Plan and build the images of an application: the shared runtime, one per executor, one per service, one
for the tracker.

Building streams the engine's output as :class:`~..base.DeployEvent` objects (a progress bar in the notebook, lines on
the terminal). An image whose content-addressed tag already exists is not built again. When an image fails,
the others are still built, and one :class:`ImageBuildError` names every failure with its failing line
(for a requirement pip cannot find, pip's own ``ERROR:`` line).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...engine.launch import LAUNCHER
from ...engine.params_resolve import requirements_of, step_command
from ...errors import ImageBuildError
from ...workflow import Application, Executor, Service, Workflow
from ..base import DeployEvent, OnProgress
from ..container import TRACKER as TRACKER  # the container contract, also importable from here
from ..container import repository as repository
from .client import LABEL_MANAGED, LABEL_ROLE, labels
from .dockerfile import (
    DEFAULT_IGNORED,
    BuildContext,
    ImageOptions,
    dockerignore,
    runtime_dockerfile,
    service_dockerfile,
    step_dockerfile,
    tracker_dockerfile,
)

if TYPE_CHECKING:
    import docker

RUNTIME = "runtime"


@dataclass
class ImageSpec:
    """One image to build: what it is for, its content-addressed name, and its context."""

    role: str  # runtime, step, tracker or service
    node: str  # the node's address, or "tracker"
    repository: str
    context: BuildContext
    dockerfile: str = "Dockerfile"
    custom: bool = False  # the executor's own Dockerfile (no launcher inside)
    tag: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    # Build arguments (pip's index settings, which may hold credentials: never in a tag, a layer or a repr).
    build_args: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return f"{self.repository}:{self.tag}"


def _nodes(app: Application, workflows: Iterable[str] | None) -> dict[str, Executor | Service]:
    chosen = [app.workflow(w) for w in workflows] if workflows is not None else list(app.workflows)
    out: dict[str, Executor | Service] = {}
    for wf in chosen:
        out.update(Workflow.leaves(wf))
    return out


def app_context(app: Application, options: ImageOptions, prefix: str = "app") -> BuildContext:
    """The application's code under ``prefix``: what Docker would send for the folder, with
    :data:`~.dockerfile.DEFAULT_IGNORED` before the folder's ``.dockerignore`` (which may bring one back with
    ``!``), and the shared data folders always left out (they are volumes). An executor's own Dockerfile gets
    the application folder as the context root, as ``docker build APP`` would.

    Raises
    ------
    DockerInputError
        When a file kept is a symlink leading out of the folder.
    """
    folder = app.folder or Path.cwd()
    ctx = BuildContext()
    data = [f"/{d.strip('/')}" for d in options.data_dirs]
    ignore = [*DEFAULT_IGNORED, *dockerignore(folder), *options.ignore, *data]
    ctx.add_tree(folder, prefix, ignore)
    return ctx


def _requirements(ctx: BuildContext, requirements: list[str]) -> None:
    if requirements:
        ctx.add("requirements.txt", ("\n".join(requirements) + "\n").encode())


def runtime_spec(options: ImageOptions, base_id: str, mlflow_version: str) -> ImageSpec:
    """The runtime image every other image starts from; shared by every application (no application label,
    so an application's clean-up keeps it)."""
    ctx = BuildContext()  # no CA bundle: it rides in the build arguments
    ctx.add("Dockerfile", runtime_dockerfile(options, mlflow_version).encode())
    spec = ImageSpec("runtime", RUNTIME, "scanflow/runtime", ctx)
    spec.tag = ctx.digest(base_id, options.base_image)[:16]
    spec.labels = {LABEL_MANAGED: "true", LABEL_ROLE: "runtime"}
    spec.build_args = options.build_args()
    return spec


def plan(
    app: Application,
    options: ImageOptions,
    base_id: str,
    mlflow_version: str,
    workflows: Iterable[str] | None = None,
    tracker: bool = True,
) -> list[ImageSpec]:
    """Every image ``app`` needs, in build order: the shared runtime, its executors and services (of
    ``workflows``, all by default), and the tracker. Tags are content-addressed; ``base_id`` is the base
    image's id, part of every tag."""
    runtime = runtime_spec(options, base_id, mlflow_version)
    specs: list[ImageSpec] = []
    code = app_context(app, options)
    launcher = Path(LAUNCHER).read_bytes()
    for address, node in _nodes(app, workflows).items():
        if isinstance(node, Executor):
            if node.dockerfile:
                ctx = app_context(app, options, prefix="")
                spec = ImageSpec("step", address, repository(app.name, address), ctx, node.dockerfile, True)
            else:
                ctx = BuildContext(dict(code.files))
                reqs = requirements_of(app, node)
                _requirements(ctx, reqs)
                ctx.add("launch.py", launcher)
                command = step_command(node, node.defaults())
                text = step_dockerfile(
                    options, runtime.name, requirements=bool(reqs), command=command, node=address, app=app.name
                )
                ctx.add("Dockerfile", text.encode())
                spec = ImageSpec("step", address, repository(app.name, address), ctx)
        else:
            ctx = BuildContext()
            reqs = requirements_of(app, Executor(name=node.name))
            _requirements(ctx, reqs)
            text = service_dockerfile(runtime.name, requirements=bool(reqs), name=address, app=app.name)
            ctx.add("Dockerfile", text.encode())
            spec = ImageSpec("service", address, repository(app.name, address), ctx)
        specs.append(spec)
    if tracker:
        ctx = BuildContext()
        ctx.add("Dockerfile", tracker_dockerfile(runtime.name).encode())
        specs.append(ImageSpec("tracker", TRACKER, repository(app.name, TRACKER), ctx))
    for spec in specs:
        spec.tag = spec.context.digest(runtime.name, spec.dockerfile)[:16]
        spec.labels = labels(app.name, "image", node=spec.node, kind=spec.role)
        if not spec.custom:  # an executor's own Dockerfile gets no index settings: it does not read them
            spec.build_args = options.build_args()
    return [runtime, *specs]


_STEP = re.compile(r"^Step (\d+)/(\d+) :")
_LAYER = re.compile(r"^ ---> ([0-9a-f]{12,64})$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the engine colours what a build step writes to stderr


def build(
    client: docker.DockerClient,
    specs: Iterable[ImageSpec],
    on_event: OnProgress | None = None,
    network_mode: str | None = None,
    no_cache: bool = False,
) -> dict[str, str]:
    """Build the images not already there; returns ``{node: image name}`` for those that exist afterwards.
    ``no_cache`` builds every layer again (a cold build), even where the engine has it cached.

    Raises
    ------
    ImageBuildError
        After trying every image, when one or more failed: the message names each with its failing line.
    """
    import docker.errors

    say = on_event or (lambda _e: None)
    built: dict[str, str] = {}
    failures: list[ImageBuildError] = []
    for spec in specs:
        try:
            client.images.get(spec.name)
        except docker.errors.ImageNotFound:
            pass
        else:
            built[spec.node] = spec.name
            say(DeployEvent(spec.name, spec.node, "up to date", status="cached"))
            continue
        try:
            _build_one(client, spec, say, network_mode, no_cache)
        except ImageBuildError as exc:
            failures.append(exc)
            say(DeployEvent(spec.name, spec.node, exc.failed_line, status="failed"))
            continue
        built[spec.node] = spec.name
        say(DeployEvent(spec.name, spec.node, "built", status="built"))
    if failures:
        heads = "\n".join(f"  - {f}" for f in failures)
        first = failures[0]
        raise ImageBuildError(
            f"{len(failures)} image{'s' if len(failures) > 1 else ''} did not build "
            f"({len(built)} other{'s' if len(built) != 1 else ''} did):\n{heads}",
            first.image,
            first.failed_line,
            first.log,
        )
    return built


def _build_one(
    client: docker.DockerClient,
    spec: ImageSpec,
    say: OnProgress,
    network_mode: str | None,
    no_cache: bool = False,
) -> None:
    import docker.errors

    lines: list[str] = []
    layers: list[str] = []  # the intermediate images this build made, in order
    step = total = 0
    error = ""
    kwargs: dict[str, Any] = {}
    if network_mode:
        kwargs["network_mode"] = network_mode
    if spec.build_args:
        kwargs["buildargs"] = dict(spec.build_args)
    try:
        stream = client.api.build(
            fileobj=spec.context.tar(),
            custom_context=True,
            dockerfile=spec.dockerfile,
            tag=spec.name,
            labels=spec.labels,
            rm=True,
            forcerm=True,
            pull=False,
            nocache=no_cache,
            decode=True,
            **kwargs,
        )
        for chunk in stream:
            if "error" in chunk:
                error = str(chunk.get("error", "")).strip()
                break
            text = str(chunk.get("stream", ""))
            for line in text.splitlines():
                line = _ANSI.sub("", line).rstrip()
                if not line:
                    continue
                lines.append(line)
                layer = _LAYER.match(line)
                if layer:
                    layers.append(layer.group(1))
                match = _STEP.match(line)
                if match:
                    step, total = int(match.group(1)), int(match.group(2))
                say(DeployEvent(spec.name, spec.node, line, step, total))
    except docker.errors.APIError as exc:  # not str(exc): its request URL holds the build arguments
        error = str(exc.explanation or f"the engine answered {exc.status_code}")
    if not error:
        return
    _drop_layers(client, layers)
    log = "\n".join(lines[-30:])
    failed = _failed_line(lines) or error
    what = {"tracker": "the MLflow tracker", "runtime": "the shared runtime"}.get(
        spec.role, f"{spec.role} {spec.node!r}"
    )
    raise ImageBuildError(
        f"Image {spec.name} ({what}) did not build: {failed}\n    ({error}). " + _hint(failed, error),
        spec.name,
        failed,
        log,
    )


def _drop_layers(client: docker.DockerClient, layers: list[str]) -> None:
    """Remove the untagged layers a failed build left behind (they carry no application label, so clean-up
    by label would not find them). A layer another image is built on is refused by the engine, and kept."""
    import docker.errors

    for layer in reversed(layers):
        try:
            if client.images.get(layer).tags:
                continue
            client.images.remove(layer, noprune=False)
        except docker.errors.APIError:  # in use (a parent of another image), or gone already
            continue


def _failed_line(lines: list[str]) -> str:
    errors = [line.strip() for line in lines if line.strip().startswith("ERROR:")]
    for line in reversed(errors):
        if "No matching distribution" in line:
            return line
    return errors[-1] if errors else ""


def _hint(failed: str, error: str) -> str:
    if "No matching distribution" in failed or "Could not find a version" in failed:
        return (
            "Check the requirement's name and version on PyPI (or your index); behind a proxy or without "
            "internet, set ca_bundle / pip_index_url in the Docker options."
        )
    if "pull access denied" in error or ("not found" in error and "manifest" in error):
        return (
            "The base image is not on this engine and no registry is reachable: build one offline with "
            "'scanflow docker base-image' and set base_image to it."
        )
    return "Fix the Dockerfile or the requirements, then build again."
