"""Kubernetes' naming rules, the labels on everything this backend creates, and the names it gives objects.

Every object carries ``app.kubernetes.io/managed-by: scanflow-jupyter`` and ``app.kubernetes.io/part-of: APP``:
status, logs and removal select by these two labels, so they never touch what another application (or a
person) created in the same namespace.
"""

from __future__ import annotations

import re

from ...errors import KubernetesNameError

MANAGED_BY = "app.kubernetes.io/managed-by"
PART_OF = "app.kubernetes.io/part-of"
COMPONENT = "app.kubernetes.io/component"  # tracker, step, service, storage, config, rbac, workflow
NAME = "app.kubernetes.io/name"
NODE = "scanflow.io/node"  # a node's address, '/' written as '.' (label values allow no '/')
WORKFLOW = "scanflow.io/workflow"
RUN = "scanflow.io/run"
ATTEMPT = "scanflow.io/attempt"
MANAGER = "scanflow-jupyter"

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")  # Service names: must start with a letter
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_MAX = 63


def check_label(name: str, what: str, hint: str = "") -> str:
    """Return ``name`` if it is a DNS-1123 label of at most 63 characters; else raise ``KubernetesNameError``
    naming ``what`` it is for and how to shorten it (``hint``)."""
    if len(name) > LABEL_MAX:
        raise KubernetesNameError(
            f"{what} name {name!r} is {len(name)} characters; Kubernetes allows at most {LABEL_MAX}. "
            + (hint or "Choose a shorter name.")
        )
    if not DNS_LABEL.fullmatch(name):
        raise KubernetesNameError(
            f"{what} name {name!r} is not a valid DNS-1123 label: lowercase letters, digits and '-', starting "
            "and ending with a letter or digit. " + (hint or "Rename it, for instance to 'my-app'.")
        )
    return name


def check_service_name(name: str, what: str, hint: str = "") -> str:
    """A Service name: a DNS-1123 label that also starts with a letter (DNS-1035)."""
    check_label(name, what, hint)
    if not DNS_1035.fullmatch(name):
        raise KubernetesNameError(
            f"{what} name {name!r} must start with a letter (Kubernetes Services are DNS-1035 labels). "
            + (hint or "Rename it so it starts with a letter.")
        )
    return name


def object_name(app: str, *parts: str, what: str = "Object") -> str:
    """``APP-PART-...`` (a node address's ``/`` becomes ``-``), checked as a DNS-1123 label."""
    name = "-".join([app, *(p.replace("/", "-") for p in parts if p)])
    budget = LABEL_MAX - (len(name) - len(app))
    hint = (
        f"It is made of the application name {app!r} and {'-'.join(parts)!r}: shorten the application name "
        f"(at most {max(budget, 1)} characters here) or the node's name."
        if parts
        else "Shorten the application name."
    )
    return check_label(name, what, hint)


def label_value(value: str) -> str:
    """``value`` made a valid label value: ``/`` becomes ``.``; longer than 63 characters, it keeps its end."""
    text = value.replace("/", ".")
    text = re.sub(r"[^A-Za-z0-9_.-]", "-", text)[-LABEL_MAX:]
    return text.strip("-_.") or "x"


def app_labels(app: str, component: str, **extra: str) -> dict[str, str]:
    """The labels of an object of application ``app``; ``extra`` keys are ``scanflow.io/KEY`` labels."""
    out = {MANAGED_BY: MANAGER, PART_OF: app, COMPONENT: component}
    out.update({f"scanflow.io/{k}": label_value(v) for k, v in extra.items()})
    return out


def selector(app: str, component: str | None = None, **extra: str) -> str:
    """A label selector matching exactly the objects of ``app`` (and ``component``, and ``extra`` labels)."""
    parts = [f"{MANAGED_BY}={MANAGER}", f"{PART_OF}={app}"]
    if component is not None:
        parts.append(f"{COMPONENT}={component}")
    parts += [f"scanflow.io/{k}={label_value(v)}" for k, v in extra.items()]
    return ",".join(parts)
