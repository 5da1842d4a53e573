"""A batch workflow as one Argo Workflows ``Workflow`` resource (``argoproj.io/v1alpha1``).

The DAG template mirrors the graph: each executor is a container template, each nested workflow its own DAG
template (so Argo's UI shows the same clusters as ``%scanflow plot``), and dependencies are DAG
dependencies between siblings. A step's ``retries``, ``retry_backoff`` and ``timeout`` become the template's
``retryStrategy`` (exponential backoff, as the local scheduler does) and ``activeDeadlineSeconds``.

Every declared parameter is a workflow parameter, so ``argo submit -p preprocess_seed=3`` overrides it as
``scanflow run -p preprocess.seed=3`` does: the Argo name is the step's address with ``/`` written ``-``,
then ``_`` and the parameter's name (Argo allows letters, digits, ``-`` and ``_`` only, so a ``.`` in a
parameter's own name is written ``_``).

Example
-------
>>> wf = argo_workflow(app, "pipeline", options)                    # doctest: +SKIP
>>> [t["name"] for t in wf["spec"]["templates"]]                    # doctest: +SKIP
['pipeline', 'step-gather', 'step-preprocess', 'dag-modeling', 'step-modeling-linear', ...]
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from ...engine.params_resolve import resolve_overrides, step_params
from ...errors import KubernetesNameError
from ...workflow import Application, Executor, Service, Workflow
from ...workflow.params import to_argv
from .manifests import (
    KubeOptions,
    Manifest,
    container_security,
    image_of,
    pod_security,
    resources,
    runner_name,
    step_argv,
    step_env,
    step_mounts,
    step_volumes,
)
from .names import LABEL_MAX, app_labels, check_label

API_VERSION = "argoproj.io/v1alpha1"
GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "workflows"
TEMPLATE_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")  # Argo's workflowFieldNameFmt, at most 128
PARAM_NAME = re.compile(r"^[-a-zA-Z0-9_]+$")  # Argo's paramOrArtifactNameRegex
GENERATED_SUFFIX = 5  # the random characters the API server appends to a generateName
# Argo refuses a Workflow whose name is longer than a label value (its pods carry it as one).
PREFIX_MAX = LABEL_MAX - GENERATED_SUFFIX - 1  # APP-WORKFLOW, then '-' and the suffix


def executor_patch() -> str:
    """The ``podSpecPatch`` that gives Argo's own containers in each step pod (the ``init`` container and
    the ``wait`` sidecar of Argo >= 3.4) the ``restricted`` container security context ours have, with its
    read-only root filesystem (Argo mounts ``emptyDir`` volumes at ``/tmp`` and ``/var/run/argo`` in them).

    Argo sets no security context on them unless its controller is configured with one
    (``executor.securityContext`` in ``workflow-controller-configmap``), and the namespace scanflow creates
    enforces the ``restricted`` Pod Security Standard: without this patch the API server refuses every step
    pod of the workflow.
    """
    security = container_security()
    return json.dumps(
        {
            "initContainers": [{"name": "init", "securityContext": security}],
            "containers": [{"name": "wait", "securityContext": security}],
        },
        separators=(",", ":"),
    )


def argo_param(address: str, name: str) -> str:
    """The workflow parameter of ``address``'s parameter ``name``: ``modeling/linear`` + ``c`` ->
    ``modeling-linear_c``."""
    return f"{address.replace('/', '-')}_{name.replace('.', '_')}"


def _template_name(kind: str, address: str) -> str:
    name = f"{kind}-{address.replace('/', '-')}"
    if len(name) > 128 or not TEMPLATE_NAME.fullmatch(name):
        raise KubernetesNameError(f"Argo template name {name!r} is invalid or longer than 128; shorten {address!r}.")
    return name


def _duration(seconds: float) -> str:
    return f"{seconds:g}s"


def argo_workflow(
    app: Application,
    workflow: str | None,
    options: KubeOptions,
    params: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> Manifest:
    """The Argo ``Workflow`` of one batch workflow of ``app``. ``params`` overrides parameter defaults
    (``{"step.name": value}``, as for ``scanflow run``); ``name`` fixes ``metadata.name`` (default: a
    ``generateName``, so each submission is a new run)."""
    app.validate(check_files=False)
    wf = app.workflow(workflow if workflow is not None else default_batch(app))
    overrides = resolve_overrides(wf, params)
    arguments: list[dict[str, str]] = []
    seen: dict[str, str] = {}
    templates: list[dict[str, Any]] = []
    labels = app_labels(app.name, "workflow", workflow=wf.name)

    def add_params(address: str, node: Executor) -> list[tuple[str, str]]:
        """(input name, workflow parameter) pairs of a step, adding the workflow's parameters."""
        pairs = []
        values = step_params(node, overrides.get(address, {}))
        rendered = dict(zip(to_argv(values)[::2], to_argv(values)[1::2], strict=True))
        for pname in values:
            wname = argo_param(address, pname)
            if not PARAM_NAME.fullmatch(wname):
                raise KubernetesNameError(
                    f"Parameter {pname!r} of step {address!r} gives the Argo parameter name {wname!r}, which Argo "
                    "refuses (letters, digits, '-' and '_' only); rename the parameter."
                )
            if wname in seen:
                raise KubernetesNameError(
                    f"Parameters {seen[wname]!r} and {address + '.' + pname!r} both become the Argo parameter "
                    f"{wname!r}; rename one of them."
                )
            seen[wname] = f"{address}.{pname}"
            arguments.append({"name": wname, "value": rendered[f"--{pname}"]})
            pairs.append((pname.replace(".", "_"), wname))
        return pairs

    def step_template(address: str, node: Executor) -> str:
        pairs = add_params(address, node)
        tname = _template_name("step", address)
        source = ["script", node.script] if node.script is not None else ["call", str(node.function)]
        args = [*source]
        for (iname, _wname), pname in zip(pairs, step_params(node, overrides.get(address, {})), strict=True):
            args += [f"--{pname}", f"{{{{inputs.parameters.{iname}}}}}"]
        env = step_env(
            app.name,
            address,
            node,
            {"MLFLOW_EXPERIMENT_NAME": app.name, "SCANFLOW_RUN_ID": "{{workflow.name}}"},
        )
        container: dict[str, Any] = {
            "name": "main",
            "image": image_of(options, address),
            "imagePullPolicy": options.pull_policy,
            "command": step_argv(node, args),
            "workingDir": "/app",
            "env": [{"name": k, "value": v} for k, v in env.items()],
        }
        if options.env_secrets:
            container["envFrom"] = [{"secretRef": {"name": s}} for s in options.env_secrets]
        container["resources"] = resources(address, node.resources, options.default_resources)
        container["securityContext"] = container_security()
        container["volumeMounts"] = step_mounts(options)
        template: dict[str, Any] = {"name": tname}
        if pairs:
            template["inputs"] = {"parameters": [{"name": iname} for iname, _ in pairs]}
        template["metadata"] = {"labels": app_labels(app.name, "step", node=address, workflow=wf.name)}
        template["container"] = container
        if node.retries:
            template["retryStrategy"] = {
                "limit": node.retries,
                "retryPolicy": "Always",
                "backoff": {"duration": _duration(node.retry_backoff), "factor": 2},
            }
        if node.timeout is not None:
            template["activeDeadlineSeconds"] = max(1, math.ceil(node.timeout))
        templates.append(template)
        return tname

    def dag_template(tname: str, flow: Workflow, prefix: str) -> None:
        tasks: list[dict[str, Any]] = []
        position = len(templates)
        templates.append({})  # keeps a DAG before the templates it calls, as one reads it
        for node in flow.nodes:
            address = f"{prefix}{node.name}"
            task: dict[str, Any] = {"name": node.name}
            if isinstance(node, Workflow):
                inner = _template_name("dag", address)
                task["template"] = inner
                dag_template(inner, node, address + "/")
            elif isinstance(node, Executor):
                task["template"] = step_template(address, node)
                inputs = [(i, w) for i, w in _pairs_of(address, node, overrides)]
                if inputs:
                    task["arguments"] = {
                        "parameters": [{"name": i, "value": f"{{{{workflow.parameters.{w}}}}}"} for i, w in inputs]
                    }
            else:  # pragma: no cover - validation keeps services out of batch workflows
                assert isinstance(node, Service)
                continue
            if node.depends_on:
                task["dependencies"] = list(node.depends_on)
            tasks.append(task)
        templates[position] = {"name": tname, "dag": {"tasks": tasks}}

    entry = check_label(wf.name, "Argo entrypoint template")
    dag_template(entry, wf, "")
    metadata: dict[str, Any] = {}
    if name is not None:
        metadata["name"] = check_label(name, "Workflow")
    else:
        prefix = check_label(f"{app.name}-{wf.name}", "Workflow")
        if len(prefix) > PREFIX_MAX:
            raise KubernetesNameError(
                f"Argo Workflow names start with {prefix!r} ({len(prefix)} characters), and with the "
                f"{GENERATED_SUFFIX} characters added to each run's name they would pass the {LABEL_MAX} Argo allows. "
                f"Shorten the application or the workflow name (together at most {PREFIX_MAX - 1} characters)."
            )
        metadata["generateName"] = f"{prefix}-"
    metadata["namespace"] = options.namespace
    metadata["labels"] = labels
    spec: dict[str, Any] = {
        "entrypoint": entry,
        # The workflow's pods keep their ServiceAccount's token: Argo's wait container reports each step's
        # result through the API with it. The ServiceAccount can do nothing else, and no other pod uses it;
        # see manifests.rbac for why not `automountServiceAccountToken: false` with `executor`.
        "serviceAccountName": runner_name(app.name),
    }
    if arguments:
        spec["arguments"] = {"parameters": arguments}
    if options.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in options.image_pull_secrets]
    spec["securityContext"] = pod_security()
    if options.managed_namespace:  # the namespace scanflow creates enforces the restricted standard
        spec["podSpecPatch"] = executor_patch()
    spec["podMetadata"] = {"labels": app_labels(app.name, "step", workflow=wf.name)}
    spec["volumes"] = step_volumes(app.name)
    spec["templates"] = templates
    return {"apiVersion": API_VERSION, "kind": "Workflow", "metadata": metadata, "spec": spec}


def _pairs_of(address: str, node: Executor, overrides: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    return [
        (pname.replace(".", "_"), argo_param(address, pname)) for pname in step_params(node, overrides.get(address, {}))
    ]


def batch_workflows(app: Application) -> list[str]:
    """The names of the application's batch workflows."""
    return [wf.name for wf in app.workflows if wf.kind == "batch"]


def default_batch(app: Application) -> str | None:
    """The only batch workflow's name (None when there are several or none: ``app.workflow`` then lists
    the choices)."""
    names = batch_workflows(app)
    return names[0] if len(names) == 1 else None
