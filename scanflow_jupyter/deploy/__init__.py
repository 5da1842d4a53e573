"""Deploying an application: Docker (images, network, tracker, batch runs, services, compose and swarm).

Nothing heavy loads with this package: the docker SDK is imported when a Docker engine is first needed.
"""

from __future__ import annotations
