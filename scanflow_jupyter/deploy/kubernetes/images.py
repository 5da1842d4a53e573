"""The images a cluster runs: the Docker backend's content-addressed images, under a registry prefix.

A cluster pulls from a registry, so each image ``scanflow/tabular-gather:3f2a9c1d5e6b7a80`` built by the
Docker backend is pushed as ``REGISTRY/scanflow/tabular-gather:3f2a9c1d5e6b7a80``. The tag stays the
content digest: the same code, requirements and base give the same name, so ``IfNotPresent`` is safe and a
node never runs a stale image. On kind, ``kind load docker-image`` replaces the registry (no prefix).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ...errors import BackendError
from ...workflow import Application, Workflow
from ..base import DeployEvent, OnProgress
from ..container import TRACKER, check_image_name, repository

if TYPE_CHECKING:
    import docker


def with_registry(image: str, registry: str | None) -> str:
    """``image`` under ``registry`` (``registry.example.org:5000/team``); unchanged without one."""
    if not registry:
        return image
    return check_image_name(f"{registry.strip().rstrip('/')}/{image}")


def nodes_needing_images(app: Application, workflows: Iterable[str] | None = None) -> list[str]:
    chosen = [app.workflow(w) for w in workflows] if workflows is not None else list(app.workflows)
    out: list[str] = []
    for wf in chosen:
        out.extend(a for a in Workflow.leaves(wf) if a not in out)
    return [*out, TRACKER]


def tagged_images(app: Application, tag: str, registry: str | None = None) -> dict[str, str]:
    """``{node: image}`` for images already built and pushed under one ``tag`` (a release, a CI build)."""
    return {
        node: with_registry(check_image_name(f"{repository(app.name, node)}:{tag}"), registry)
        for node in nodes_needing_images(app)
    }


def push(
    client: docker.DockerClient,
    images: Mapping[str, str],
    registry: str,
    on_event: OnProgress | None = None,
) -> dict[str, str]:
    """Tag each local image under ``registry`` and push it (an event of status ``pushed`` once it is); returns
    ``{node: pushed image}``.

    Raises
    ------
    BackendError
        Naming the image and the registry's answer (log in with ``docker login REGISTRY`` for a private one).
    """
    import docker.errors

    say = on_event or (lambda _event: None)
    out: dict[str, str] = {}
    for node, local in images.items():
        remote = with_registry(local, registry)
        repo, _, tag = remote.rpartition(":")
        try:
            client.images.get(local).tag(repo, tag)
            for chunk in client.images.push(repo, tag, stream=True, decode=True):
                if isinstance(chunk, dict) and chunk.get("error"):
                    raise BackendError(_push_error(remote, registry, str(chunk["error"])))
            say(DeployEvent(remote, node, f"pushed to {registry}", status="pushed"))
        except docker.errors.DockerException as exc:
            raise BackendError(_push_error(remote, registry, str(getattr(exc, "explanation", None) or exc))) from None
        out[node] = remote
    return out


def _push_error(image: str, registry: str, answer: str) -> str:
    return (
        f"Pushing {image} to {registry} failed: {answer.strip().splitlines()[0][:300] if answer.strip() else '?'}. "
        f"Check the registry's address, log in ('docker login {registry.split('/')[0]}'), and for a registry "
        "without TLS add it to the Docker engine's insecure-registries."
    )


def build_and_push(
    docker_app: Any,
    registry: str | None,
    workflows: Iterable[str] | None = None,
    on_event: OnProgress | None = None,
) -> dict[str, str]:
    """Build the images with the Docker backend (only the missing ones) and push them to ``registry``, both
    reported to ``on_event``; without a registry, return the local names (for ``kind load docker-image``)."""
    built = dict(docker_app.build(workflows=workflows, on_event=on_event))
    built.pop("runtime", None)
    if not registry:
        return built
    return push(docker_app.client, built, registry, on_event)
