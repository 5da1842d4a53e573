"""Reading and writing ``scanflow.yaml``: versioned, canonical (defaults left out), round-tripping, and
the JSON Schema of the format."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem, SchemaVersionError, SpecFormatError, WorkflowValidationError
from .model import SCHEMA_VERSION, Application, Executor, Parameter, Service, Workflow
from .params import infer_type

SPEC_FILE = "scanflow.yaml"
SUPPORTED_VERSIONS = (1,)
SCHEMA_ID = "https://scanflow-jupyter.dev/schema/scanflow.v{version}.schema.json"


def spec_path(path: str | Path) -> Path:
    """The spec file for ``path``: the file itself, or ``scanflow.yaml`` inside a folder."""
    p = Path(path)
    return p / SPEC_FILE if p.is_dir() else p


def load(path: str | Path) -> Application:
    """Load an application from a folder holding ``scanflow.yaml`` or from a spec file.

    Raises ``SpecFormatError`` for unreadable YAML, ``SchemaVersionError`` for an unknown ``scanflow:``
    version and ``WorkflowValidationError`` for a spec of the wrong shape. Cross-node checks are not run
    here: call ``app.validate()``.
    """
    file = spec_path(path)
    if not file.is_file():
        hint = "run 'scanflow init' or create it" if file.name == SPEC_FILE else "check the path"
        raise SpecFormatError([Problem(str(file), f"no such file; {hint}")], subject=str(path))
    return loads(file.read_text(encoding="utf-8"), folder=file.parent, source=str(file))


def loads(text: str, folder: str | Path | None = None, source: str = "<string>") -> Application:
    """Load an application from YAML (or JSON) text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecFormatError(
            [Problem(where, f"not valid YAML: {problem}; fix the syntax there")], subject=source
        ) from None
    if not isinstance(data, dict):
        raise SpecFormatError(
            [
                Problem(
                    "",
                    f"expected a mapping with 'scanflow: {SCHEMA_VERSION}', 'name' and 'workflows', "
                    f"got {type(data).__name__}",
                )
            ],
            subject=source,
        )
    check_version(data.get("scanflow"), source)
    try:
        app = Application(**data)
    except WorkflowValidationError as exc:
        raise WorkflowValidationError(exc.problems, subject=source) from None
    if folder is not None:
        app.folder = folder
    return app


def check_version(version: Any, source: str) -> None:
    """Raise ``SchemaVersionError`` unless ``version`` is one this release reads."""
    if version is None:
        raise SchemaVersionError(
            [Problem("scanflow", f"missing schema version; add 'scanflow: {SCHEMA_VERSION}' as the first line")],
            subject=source,
        )
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > max(SUPPORTED_VERSIONS)
        fix = "upgrade scanflow-jupyter to read it" if newer else f"use 'scanflow: {SCHEMA_VERSION}'"
        raise SchemaVersionError(
            [
                Problem(
                    "scanflow",
                    f"unknown schema version {version!r} (this release reads "
                    f"{', '.join(map(str, SUPPORTED_VERSIONS))}); {fix}",
                )
            ],
            subject=source,
        )


def to_dict(app: Application) -> dict[str, Any]:
    """The canonical plain-data form: declared key order, defaults left out, parameter shorthands."""
    data: dict[str, Any] = {"scanflow": app.scanflow, "name": app.name}
    rest = app.model_dump(exclude_defaults=True, exclude={"scanflow", "name", "workflows", "agents"})
    data.update(rest)
    if app.workflows:
        data["workflows"] = [_node_dict(wf) for wf in app.workflows]
    if app.agents:  # after the workflows they act on
        data["agents"] = [agent.model_dump(exclude_defaults=True) for agent in app.agents]
    return data


def _node_dict(node: Executor | Service | Workflow) -> dict[str, Any]:
    if isinstance(node, Workflow):
        out = node.model_dump(exclude_defaults=True, exclude={"nodes"})
        out["nodes"] = [_node_dict(n) for n in node.nodes]
        return out
    out = node.model_dump(exclude_defaults=True)
    out["name"] = node.name
    if isinstance(node, Executor) and node.parameters:
        out["parameters"] = {name: _param_value(p) for name, p in node.parameters.items()}
    # model_dump keeps declaration order for the fields it kept; put them back in that order.
    order = list(type(node).model_fields)
    return {key: out[key] for key in order if key in out}


def _param_value(param: Parameter) -> Any:
    if param.default is not None and not param.help and infer_type(param.default) == param.type:
        return param.default
    return param.model_dump(exclude_defaults=True) | {"type": param.type}


def dump_yaml(app: Application) -> str:
    """Canonical YAML text of an application."""
    return yaml.safe_dump(to_dict(app), sort_keys=False, default_flow_style=False, indent=2, allow_unicode=True)


def dump_json(app: Application) -> str:
    """JSON text of an application (the same data as the YAML form)."""
    return json.dumps(to_dict(app), indent=2) + "\n"


def save(app: Application, path: str | Path | None = None) -> Path:
    """Write the canonical YAML atomically; ``path`` is a file, a folder, or (None) the app folder."""
    if path is None:
        if app.folder is None:
            raise SpecFormatError(
                [Problem("", "the application has no folder; pass a path to save it to")], subject=app.name
            )
        target = app.folder / SPEC_FILE
    else:
        target = Path(path)
        if target.is_dir() or target.suffix not in (".yaml", ".yml", ".json"):
            target.mkdir(parents=True, exist_ok=True)
            target = target / SPEC_FILE
    text = dump_json(app) if target.suffix == ".json" else dump_yaml(app)
    write_atomic(target, text)
    if app.folder is None:
        app.folder = target.parent
    return target


def write_atomic(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` so a reader sees the old or the new file, never half of one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_schema(version: int = SCHEMA_VERSION) -> dict[str, Any]:
    """The JSON Schema of ``scanflow.yaml`` (parameter shorthands included)."""
    schema = Application.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID.format(version=version)
    schema["title"] = f"scanflow.yaml (schema version {version})"
    schema["properties"]["scanflow"] = {"const": version, "description": "Schema version of this file."}
    schema["required"] = sorted({*schema.get("required", []), "scanflow", "name"})
    params = schema["$defs"]["Executor"]["properties"]["parameters"]
    params["additionalProperties"] = {
        "anyOf": [
            {"$ref": "#/$defs/Parameter"},
            {"type": ["string", "integer", "number", "boolean"], "description": "Shorthand for a default value."},
        ]
    }
    return schema


def schema_file() -> Path:
    """Where the exported JSON Schema lives in the package."""
    return Path(__file__).with_name("schema") / f"scanflow.v{SCHEMA_VERSION}.schema.json"


def write_schema(path: str | Path | None = None) -> Path:
    """Write the JSON Schema (by default into the package, where the golden test compares it)."""
    target = Path(path) if path is not None else schema_file()
    write_atomic(target, json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
    return target
