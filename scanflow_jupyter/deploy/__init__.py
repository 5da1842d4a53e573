"""Deploying an application: Docker (images, network, tracker, batch runs, services, compose files, swarm
stacks) and Kubernetes (namespace, tracker, Jobs or Argo Workflows, services).

The backends are siblings and never import each other: what they share is here, :mod:`.base` (the
``Deployment`` protocol they satisfy, its status, endpoint, progress event and the engine's twin of the
application), :mod:`.container` (the image layout, the launcher, the user, image names, the model-serving
command), :mod:`.builder` (who builds the images a cluster runs) and :mod:`.tracker` (the tracking server).
Nothing heavy loads with this package: the docker SDK is imported when a Docker engine is first needed.
"""

from __future__ import annotations
