"""The container contract every container backend shares: where an image holds the application and the step
launcher, the non-root user it runs as, how a launcher is handed to an image that has none, the command that
serves a model, and the names of images.

Docker builds the images; Kubernetes and the agents run them. So this contract lives here, beside the backends,
and ``deploy/docker`` and ``deploy/kubernetes`` both import it, never each other.

Example
-------
>>> repository("tabular", "modeling/linear")
'scanflow/tabular-modeling-linear'
>>> service_command(Service(name="model", model_uri="models:/m/1"))[:5]
['mlflow', 'models', 'serve', '-m', 'models:/m/1']
"""

from __future__ import annotations

import re

from ..errors import DockerNameError
from ..workflow import Service

__all__ = [
    "APP_DIR",
    "INLINE_LAUNCHER",
    "LAUNCHER_PATH",
    "TRACKER",
    "UID",
    "USER",
    "check_image_name",
    "repository",
    "service_command",
]

USER = "scanflow"
UID = 10001
APP_DIR = "/app"
LAUNCHER_PATH = "/opt/scanflow/launch.py"
# `python3 -c INLINE_LAUNCHER SOURCE ARGS...` runs the launcher's SOURCE with sys.argv[1:] == ARGS.
INLINE_LAUNCHER = (
    "import sys\n"
    "source = sys.argv.pop(1)\n"
    f"exec(compile(source, {LAUNCHER_PATH!r}, 'exec'), {{'__name__': '__main__', '__file__': {LAUNCHER_PATH!r}}})\n"
)
TRACKER = "tracker"

# An image repository path component (lower case, separators . _ __ -) and a tag.
_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def check_image_name(image: str) -> str:
    """Raise ``DockerNameError`` when ``image`` (``repo[:tag]``) is not a valid image reference."""
    repo, tag = image, None
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = image.rsplit(":", 1)
    host, _, rest = repo.partition("/")
    # A registry host (it has a '.' or ':' or is localhost) may have upper case and a port.
    path = rest if rest and ("." in host or ":" in host or host == "localhost") else repo
    if not _REPO.fullmatch(path) or (tag is not None and not _TAG.fullmatch(tag)):
        raise DockerNameError(
            f"Image name {image!r} is not valid for Docker: a repository is lower case letters, digits and "
            "separators ('.', '_', '-', '/'), and a tag at most 128 letters, digits, '_', '.', '-'. "
            "For example 'scanflow/tabular-gather:3f2a9c1d'."
        )
    return image


def repository(app: str, node: str) -> str:
    return check_image_name(f"scanflow/{app}-{node.replace('/', '-')}".lower())


def service_command(service: Service, port: int | None = None) -> list[str]:
    return [
        "mlflow",
        "models",
        "serve",
        "-m",
        service.model_uri,
        "--host",
        "0.0.0.0",
        "--port",
        str(port or service.port),
        "--env-manager",
        "local",
    ]
