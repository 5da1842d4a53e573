"""Every error scanflow-jupyter raises for a user's mistake or a failed run.

The tree::

    ScanflowError                      base of everything below; ``str(err)`` is the message a user reads
    ├── WorkflowValidationError        an application is invalid; ``.problems`` lists every problem found
    │   └── SpecFormatError            a spec file cannot be read (malformed YAML, wrong shape)
    │       └── SchemaVersionError     a spec file declares a schema version this release does not know
    ├── RunError                       a workflow run could not finish
    │   ├── StepFailedError            a step exited non-zero; carries the tail of its stderr
    │   │   └── StepTimeoutError       a step ran past its timeout and was stopped
    │   ├── RunNotFoundError           no run with that id under ``.scanflow/runs``
    │   ├── RunInProgressError         the run is driven by another process (named: pid, host, since when)
    │   ├── CorruptStateError          a run's ``state.json`` cannot be read (cut short, damaged); names the file
    │   └── StateWriteError            a run's state could not be written (a full disk); names the file and the
    │                                  space left
    ├── BackendError                   a backend could not launch or watch a node
    │   ├── BackendUnavailableError    the backend's engine is not there (no daemon, no cluster)
    │   ├── ImageBuildError            a container image did not build; carries the failing line of the build
    │   ├── DockerNameError            a name Docker would refuse (container, network, volume, image)
    │   ├── DockerInputError           an input the Docker backend refuses: a base_image that is no image reference,
    │   │                              a data_dirs entry that is no plain relative folder, a publish address that
    │   │                              is no IP address, a symlink that leaves the application folder
    │   ├── KubernetesNameError        a name Kubernetes would refuse (too long, not a DNS-1123 label)
    │   ├── KubernetesForbiddenError   the cluster's RBAC refused an action; names verb, resource, namespace, user
    │   ├── MissingSecretError         a Secret a deployment references (an image pull secret) is not there
    │   └── PortInUseError             a port a service should publish is taken on this machine
    ├── TrackingError                  the MLflow store could not be reached or written
    │   ├── RunQueryError              a run query is invalid (a bad filter, an unknown column or sort key)
    │   └── TrackerUnreachableError    a tracking server's name does not resolve, it refuses connections or is silent
    ├── CheckingError                  a drift detector could not fit, score, check a batch or load
    │   ├── NotEnoughSamplesError      too few reference samples to train, validate and calibrate a detector
    │   ├── InvalidDataError           data a detector cannot use (not numeric, wrong axes, unreadable batch file)
    │   │   ├── NonFiniteValuesError   NaN or infinite values; names the offending samples (or time steps)
    │   │   ├── ShapeMismatchError     a batch's sample shape differs from the reference's
    │   │   ├── EmptyBatchError        a batch with no samples
    │   │   └── SequenceError          time series a sequence detector cannot use (lengths that differ, shorter
    │   │                              than the window, a feature constant in the reference)
    │   ├── CheckerSettingsError       an unknown or out-of-range setting of a detector or drift test (also a
    │   │                              ValueError)
    │   ├── MissingThresholdError      a detector has no calibrated threshold (not fitted, or loaded from a model
    │   │                              saved without one)
    │   ├── DriftDetectedError         a checker step was asked to fail when its batch drifts, and it did
    │   ├── IntegrityCheckFailedError  a checker step was asked to fail when an integrity check fails, and one did
    │   └── CheckPluginError           an integrity check that is not registered, or whose entry point does not load
    ├── LabelingError                  a labeling session, ranker or label store was given something it cannot use
    │   ├── LabelValueError            a label outside the session's classes
    │   ├── LabelConflictError         a sample another annotator has labeled or holds
    │   └── RankerError                a ranker that cannot rank with this model (no predict_proba, not fitted)
    ├── AgentError                     an agent could not be built, read its sensors or act
    │   ├── AgentDefinitionError       an agent badly put together (a rule naming an unknown sensor, a bad setting)
    │   ├── SensorError                a sensor's reading failed (an MLflow query refused, a folder missing)
    │   └── ActuatorError              an actuator failed after its retries (a workflow run that failed, ...)
    │       └── ModelVersionNotFoundError  a model version to promote that the registry does not hold
    ├── ParameterError                 a parameter override names an unknown parameter or has the wrong type
    ├── StepValueError                 a small value passed between steps (``scanflow_jupyter.step``) it cannot carry
    │   ├── ValueNotJSONError          a value that is not JSON (an object, NaN); points to file outputs
    │   ├── ValueTooLargeError         a value over the size cap; points to file outputs
    │   ├── DuplicateOutputError       a step gives the same output name twice
    │   └── UnknownValueError          a value a step or a ``${step.name}`` parameter asks for that no upstream
    │                                  step gave
    └── PathOutsideRootError           a path sent to the server extension lies outside the server's root folder

Messages name the offender and say how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ActuatorError",
    "AgentDefinitionError",
    "AgentError",
    "BackendError",
    "BackendUnavailableError",
    "CheckPluginError",
    "CheckerSettingsError",
    "CheckingError",
    "CorruptStateError",
    "DockerInputError",
    "DockerNameError",
    "DriftDetectedError",
    "DuplicateOutputError",
    "EmptyBatchError",
    "ImageBuildError",
    "IntegrityCheckFailedError",
    "InvalidDataError",
    "KubernetesForbiddenError",
    "KubernetesNameError",
    "LabelConflictError",
    "LabelValueError",
    "LabelingError",
    "MissingSecretError",
    "MissingThresholdError",
    "ModelVersionNotFoundError",
    "NonFiniteValuesError",
    "NotEnoughSamplesError",
    "ParameterError",
    "PathOutsideRootError",
    "PortInUseError",
    "Problem",
    "RankerError",
    "RunError",
    "RunInProgressError",
    "RunNotFoundError",
    "RunQueryError",
    "ScanflowError",
    "SchemaVersionError",
    "SensorError",
    "SequenceError",
    "ShapeMismatchError",
    "SpecFormatError",
    "StateWriteError",
    "StepFailedError",
    "StepTimeoutError",
    "StepValueError",
    "TrackerUnreachableError",
    "TrackingError",
    "UnknownValueError",
    "ValueNotJSONError",
    "ValueTooLargeError",
    "WorkflowValidationError",
]


class ScanflowError(Exception):
    """Base class of every error raised by scanflow-jupyter for a user's mistake or a failed run."""


@dataclass(frozen=True)
class Problem:
    """One problem found in an application: ``where`` it is (a node address or a spec path) and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class WorkflowValidationError(ScanflowError):
    """An application is invalid. ``problems`` holds every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem], subject: str = "the application") -> None:
        self.problems = list(problems)
        self.subject = subject
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in {subject}:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class SpecFormatError(WorkflowValidationError):
    """A spec file (``scanflow.yaml``) cannot be read: it is not YAML, or not of the expected shape."""


class SchemaVersionError(SpecFormatError):
    """A spec file declares a schema version this release cannot read."""


class RunError(ScanflowError):
    """A workflow run could not finish."""


class StepFailedError(RunError):
    """A step exited non-zero (or raised). ``stderr_tail`` holds the last lines it wrote to stderr."""

    def __init__(self, node: str, message: str, exit_code: int | None = None, stderr_tail: str = "") -> None:
        self.node = node
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail
        text = f"Step '{node}' {message}"
        if stderr_tail.strip():
            text += "\n--- last lines of its stderr ---\n" + stderr_tail.rstrip()
        super().__init__(text)


class StepTimeoutError(StepFailedError):
    """A step ran past its ``timeout`` and was stopped."""


class RunNotFoundError(RunError):
    """No run with the given id exists under the application's ``.scanflow/runs`` folder."""


class RunInProgressError(RunError):
    """The run is driven by another process (its lock is held), so it cannot be resumed or changed. The message
    names the holder: its pid, host and since when."""


class CorruptStateError(RunError):
    """A run's ``state.json`` cannot be read: cut short or damaged. ``path`` is the file; the message says how
    to recover. Nothing picks another run in its place."""

    def __init__(self, message: str, path: object = None) -> None:
        self.path = path
        super().__init__(message)


class StateWriteError(RunError):
    """A run's state could not be written (a full disk, a read-only folder). ``path`` is the file; the message
    says how much space is left on its disk. The run stops, and ``resume`` finishes it later."""

    def __init__(self, message: str, path: object = None) -> None:
        self.path = path
        super().__init__(message)


class BackendError(ScanflowError):
    """A backend could not launch, watch or stop a node."""


class BackendUnavailableError(BackendError):
    """The backend's engine is not reachable (no Docker daemon, no cluster)."""


class ImageBuildError(BackendError):
    """A container image did not build. ``image`` names it; ``failed_line`` is the build output line that says
    why (for a requirement pip cannot find, pip's own line); ``log`` holds the last lines of the build."""

    def __init__(self, message: str, image: str = "", failed_line: str = "", log: str = "") -> None:
        self.image = image
        self.failed_line = failed_line
        self.log = log
        super().__init__(message)


class DockerNameError(BackendError):
    """A name Docker would refuse for a container, network, volume or image."""


class DockerInputError(BackendError):
    """An input the Docker backend refuses before building or starting anything: a ``base_image`` that is not an
    image reference, a ``data_dirs`` entry that is not a plain relative folder, a ``publish`` address that is not an
    IP address, a file of the application folder that is a symlink leading out of it. The message names the field
    (or the file) and the value, and the fix."""


class PortInUseError(BackendError):
    """A port a service should publish is already taken on this machine."""


class KubernetesNameError(BackendError):
    """A name Kubernetes would refuse: longer than its limit (63 for most objects) or not a DNS-1123 label.
    The message names the object, the name and the part of it to shorten."""


class KubernetesForbiddenError(BackendError):
    """The cluster refused an action (HTTP 403, RBAC). ``verb``, ``resource`` and ``namespace`` say what was
    refused; the message quotes the API server and says how to get the permission or use another namespace."""

    def __init__(self, message: str, verb: str = "", resource: str = "", namespace: str = "") -> None:
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        super().__init__(message)


class MissingSecretError(BackendError):
    """A Secret a deployment references by name (an image pull secret) does not exist in its namespace. Only
    its name is ever read or written: scanflow never reads a Secret's data."""


class TrackingError(ScanflowError):
    """The MLflow tracking store could not be reached or written."""


class RunQueryError(TrackingError):
    """A run query is invalid: a bad filter, an unknown column or sort key, a page token of another query."""


class TrackerUnreachableError(TrackingError):
    """An MLflow tracking server that cannot be reached: its name does not resolve, nothing listens on its port,
    or it does not answer in time. Said in seconds, instead of the minutes MLflow's own HTTP retries take;
    ``address`` is the server's URI."""

    def __init__(self, message: str, address: str = "") -> None:
        self.address = address
        super().__init__(message)


class ParameterError(ScanflowError):
    """A parameter override names an unknown parameter or gives a value of the wrong type."""


class StepValueError(ScanflowError):
    """A small value passed between steps (``step.output``, ``step.input``, ``${step.name}``) that cannot be carried.
    ``name`` is the value's name (``n_rows``, or ``gather.n_rows`` for a reference)."""

    def __init__(self, message: str, name: str = "") -> None:
        self.name = name
        super().__init__(message)


class ValueNotJSONError(StepValueError):
    """A value that JSON cannot hold (an object, bytes, NaN): pass it as a file output instead."""


class ValueTooLargeError(StepValueError):
    """A value over the size cap: pass it as a file output instead."""


class DuplicateOutputError(StepValueError):
    """A step gives the same output name twice."""


class UnknownValueError(StepValueError):
    """A value asked for (``step.input``, a ``${step.name}`` parameter) that no upstream step gave."""


class CheckingError(ScanflowError):
    """A drift detector could not fit, score, check a batch or load."""


class NotEnoughSamplesError(CheckingError):
    """Too few reference samples to train, validate and calibrate a detector."""


class InvalidDataError(CheckingError):
    """Data a detector cannot use: not numeric, the wrong number of axes, or a batch file it cannot read."""


class NonFiniteValuesError(InvalidDataError):
    """NaN or infinite values in reference data or a batch. ``rows`` holds the offending sample indices."""

    def __init__(self, message: str, rows: Sequence[int] = ()) -> None:
        self.rows = list(rows)
        super().__init__(message)


class ShapeMismatchError(InvalidDataError):
    """A batch's sample shape differs from the shape of the reference samples the detector was fitted on."""


class EmptyBatchError(InvalidDataError):
    """A batch with no samples: there is nothing to score or test."""


class SequenceError(InvalidDataError):
    """Time series a sequence detector cannot use: sequences of different lengths, a series shorter than the
    window, or a feature that is constant in the reference (it cannot be standardised)."""


class CheckerSettingsError(CheckingError, ValueError):
    """An unknown or out-of-range setting of a detector or a drift test (a score kind, an architecture, a rate
    outside (0, 1)). It is also a ``ValueError``, as Python code expects of a bad argument."""


class MissingThresholdError(CheckingError):
    """A detector has no calibrated threshold: it was not fitted, or its MLflow model was saved without one."""


class DriftDetectedError(CheckingError):
    """A checker step was asked to fail on drift (``fail_on_drift``), and its batch drifted."""


class IntegrityCheckFailedError(CheckingError):
    """A checker step was asked to fail on a failed integrity check (``fail_on_checks``), and one failed."""


class CheckPluginError(CheckingError):
    """An integrity check that no package registers, or whose entry point does not load."""


class LabelingError(ScanflowError):
    """A labeling session, a ranker or a label store was given something it cannot use (an empty pool, a budget
    larger than the pool, an unknown session)."""


class LabelValueError(LabelingError):
    """A label outside the session's classes (add it as a new class first, or pick one of them)."""


class LabelConflictError(LabelingError):
    """A sample another annotator has already labeled, or holds right now: nobody overwrites anybody."""


class RankerError(LabelingError):
    """A ranker that cannot rank with this model: an uncertainty ranker on a model without ``predict_proba``."""


class AgentError(ScanflowError):
    """An agent could not be built, read its sensors or act."""


class AgentDefinitionError(AgentError):
    """An agent badly put together: a rule naming a sensor or actuator the agent lacks, two parts with one name,
    an unknown agent kind or setting in ``scanflow.yaml``."""


class SensorError(AgentError):
    """A sensor could not take its reading (an MLflow query the store refused, a folder that is not there).
    ``sensor`` names it; the agent skips the rules that read it until a reading works again."""

    def __init__(self, message: str, sensor: str = "") -> None:
        self.sensor = sensor
        super().__init__(message)


class ActuatorError(AgentError):
    """An actuator failed after its retries. ``actuator`` names it and ``attempts`` says how often it was tried;
    the decision that called it is recorded as failed, with this message."""

    def __init__(self, message: str, actuator: str = "", attempts: int = 1) -> None:
        self.actuator = actuator
        self.attempts = attempts
        super().__init__(message)


class ModelVersionNotFoundError(ActuatorError):
    """A model version to promote (or compare) that the model registry does not hold."""


class PathOutsideRootError(ScanflowError):
    """A path sent to the server extension lies outside the folder the Jupyter server serves (``..``, an absolute
    path, a symbolic link leading out); the server refuses it (HTTP 403)."""
