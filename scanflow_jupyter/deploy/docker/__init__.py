"""The Docker backend: images, the application's network and tracker, batch runs in containers, served
models, compose files and swarm stacks, and clean-up by label.

The docker SDK is imported lazily: importing this package does not load it.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False

if TYPE_CHECKING:
    from .app import DockerApp
    from .backend import DockerBackend
    from .base_image import OFFLINE_BASE_IMAGE, build_base_image
    from .client import connect
    from .dockerfile import DEFAULT_BASE_IMAGE, ImageOptions
    from .images import ImageSpec
    from .swarm import SwarmApp

_LAZY = {
    "DockerApp": "app",
    "DockerBackend": "backend",
    "OFFLINE_BASE_IMAGE": "base_image",
    "build_base_image": "base_image",
    "connect": "client",
    "DEFAULT_BASE_IMAGE": "dockerfile",
    "ImageOptions": "dockerfile",
    "ImageSpec": "images",
    "SwarmApp": "swarm",
}

__all__ = [
    "DEFAULT_BASE_IMAGE",
    "OFFLINE_BASE_IMAGE",
    "DockerApp",
    "DockerBackend",
    "ImageOptions",
    "ImageSpec",
    "SwarmApp",
    "build_base_image",
    "connect",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'scanflow_jupyter.deploy.docker' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
