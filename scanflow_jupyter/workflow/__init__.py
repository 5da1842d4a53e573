"""The pure workflow model: Executor, Service, Workflow, Application; validation; spec files; graphs.

Imports nothing else from scanflow_jupyter but ``errors``, and does no I/O beyond reading and writing
spec files.
"""

from __future__ import annotations

from . import edit
from .graph import FlatGraph, flatten
from .model import SCHEMA_VERSION, AgentSpec, Application, Executor, Parameter, Resources, Service, Tracker, Workflow
from .spec import dump_json, dump_yaml, json_schema, load, loads, save, write_schema

__all__ = [
    "SCHEMA_VERSION",
    "AgentSpec",
    "Application",
    "Executor",
    "FlatGraph",
    "Parameter",
    "Resources",
    "Service",
    "Tracker",
    "Workflow",
    "dump_json",
    "dump_yaml",
    "edit",
    "flatten",
    "json_schema",
    "load",
    "loads",
    "save",
    "write_schema",
]
