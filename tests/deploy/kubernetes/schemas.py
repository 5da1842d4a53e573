"""The schemas objects are checked against: the official Kubernetes schemas that kubernetes-validate ships
(strict: an unknown field fails), and Argo's Workflow schema vendored in data/ (its Kubernetes types resolve
to the same official definitions).

Shared by the manifest tests (through conftest) and the stand-in of the API server, which refuses what
these schemas refuse, with every problem found, as a real server lists its causes.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
# The Kubernetes minor versions whose official schemas every generated manifest must satisfy: 1.30 (still
# common on long-term-support distributions) and 1.35-1.37. The stand-in serves the last one.
K8S_VERSIONS = ("1.30.0", "1.35.0", "1.36.0", "1.37.0")


def k8s_validate(obj: dict[str, Any], version: str) -> None:
    """Validate against the official schema of ``version`` (strict: unknown fields fail); raises
    ``kubernetes_validate.ValidationError``."""
    import kubernetes_validate

    kubernetes_validate.validate(obj, version, strict=True)


def _definitions(version: str) -> dict[str, Any]:
    path = importlib.resources.files("kubernetes_validate").joinpath(
        f"kubernetes-json-schema/v{version}-local-strict/_definitions.json"
    )
    return dict(json.loads(path.read_text()))


@functools.lru_cache(maxsize=4)
def _registry(version: str) -> Any:
    from referencing import Registry, Resource

    definitions = _definitions(version)
    return Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))


@functools.lru_cache(maxsize=8)
def argo_validator(version: str = K8S_VERSIONS[-1]) -> Any:
    """A validator of Argo's Workflow schema whose Kubernetes types resolve to the official definitions of
    ``version``."""
    import jsonschema
    from referencing import Resource

    schema = json.loads((DATA / "argo-workflow.schema.json").read_text())
    registry = _registry(version).with_resource(schema["$id"], Resource.from_contents(schema))
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.lru_cache(maxsize=64)
def k8s_validator(kind: str, api_version: str, version: str = K8S_VERSIONS[-1]) -> Any | None:
    """A validator of the official strict schema of ``kind`` in ``api_version`` (``batch/v1``), found as
    kubernetes-validate finds it; None when it ships no schema for them."""
    import jsonschema

    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)  # rbac.authorization.k8s.io/v1 -> rbac-v1
    path = importlib.resources.files("kubernetes_validate").joinpath(
        f"kubernetes-json-schema/v{version}-local-strict/{kind.lower()}-{group}.json"
    )
    if not path.is_file():
        return None
    return jsonschema.Draft202012Validator(json.loads(path.read_text()), registry=_registry(version))


def validator_for(obj: dict[str, Any], version: str = K8S_VERSIONS[-1]) -> Any | None:
    """The validator of ``obj``'s kind (Argo's for a Workflow), or None when there is no schema for it."""
    if obj.get("kind") == "Workflow" and str(obj.get("apiVersion", "")).startswith("argoproj.io/"):
        return argo_validator(version)
    if obj.get("kind") == "DeleteOptions":  # one schema for every group's DeleteOptions
        return k8s_validator("DeleteOptions", "meta/v1", version)
    return k8s_validator(str(obj.get("kind", "")), str(obj.get("apiVersion", "")), version)


@dataclass(frozen=True)
class Cause:
    """One problem, as the API server reports it in a ``Status``'s ``details.causes``."""

    reason: str  # FieldValueRequired, FieldValueNotSupported, FieldValueTypeInvalid, FieldValueUnknown, ...Invalid
    field: str  # spec.template.spec.containers[0].name
    message: str  # the schema's own words

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": f"{self.field}: {self.message}", "field": self.field}


REASONS = {"required": "FieldValueRequired", "enum": "FieldValueNotSupported", "const": "FieldValueNotSupported",
           "type": "FieldValueTypeInvalid"}  # fmt: skip


def field_path(parts: Iterable[Any]) -> str:
    """``["spec", "containers", 0, "name"]`` -> ``spec.containers[0].name``, as Kubernetes writes paths."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def causes(obj: dict[str, Any], version: str = K8S_VERSIONS[-1]) -> list[Cause]:
    """Every way ``obj`` breaks its kind's schema, in path order (empty when it is valid or has no schema)."""
    validator = validator_for(obj, version)
    if validator is None:
        return []
    found = []
    for error in validator.iter_errors(obj):
        path = list(error.absolute_path)
        reason = REASONS.get(str(error.validator), "FieldValueInvalid")
        if error.validator == "required":
            missing = re.match(r"'([^']+)' is a required property", error.message)
            path = [*path, missing.group(1)] if missing else path
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            # One cause per unknown field, at its own path, as a strict server names each.
            known = set((error.schema or {}).get("properties") or {})
            for extra in sorted(set(error.instance) - known):
                message = f"Additional properties are not allowed ({extra!r} was unexpected)"
                found.append(Cause("FieldValueUnknown", field_path([*path, extra]), message))
            continue
        found.append(Cause(reason, field_path(path), error.message))
    return sorted(found, key=lambda c: (c.field, c.message))
