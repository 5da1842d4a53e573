"""The builder of an application's images, for the backends that run images they do not build themselves.

Kubernetes (and the agents on a cluster) run the images the Docker engine builds here: content-addressed, so a
cluster pulls exactly what was built. They ask this module for the builder instead of importing the Docker
backend, so no backend imports a sibling backend; this is the one place that says which builder it is.

Example
-------
>>> builder = image_builder(app, base_image="python:3.11-slim")   # doctest: +SKIP
>>> [s.name for s in builder.images()]                             # doctest: +SKIP
['scanflow/runtime:...', 'scanflow/tabular-gather:...', ...]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..workflow import Application
    from .docker import DockerApp

__all__ = ["image_builder"]


def image_builder(app: Application, **options: Any) -> DockerApp:
    """The Docker backend of ``app`` with ``options`` (``base_image``, ``ca_bundle``...): it plans the images'
    content tags (``images()``), builds the missing ones (``build()``) and holds the engine (``client``)."""
    from .docker import DockerApp

    return DockerApp(app, **options)
