"""The command line of ``%scanflow``: one IPython ``MagicArgumentParser`` per subcommand, and the help text
that ``%scanflow?`` shows (every subcommand with its options)."""

from __future__ import annotations

import argparse
from typing import NoReturn

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser

# Subcommands of the line magic, in the order the help lists them; `step` is the cell magic's.
LINE_COMMANDS = (
    "load",
    "new",
    "plot",
    "run",
    "resume",
    "status",
    "runs",
    "validate",
    "export",
    "compose",
    "check",
    "label",
    "agents",
    "deploy",
)
CELL_COMMANDS = ("step",)


class CommandParser(MagicArgumentParser):
    """A subcommand's parser: a mistake is a ``UsageError`` that names the subcommand and shows its usage."""

    def error(self, message: str) -> NoReturn:
        usage = " ".join(self.format_usage().replace("::", "").split())
        raise UsageError(f"{self.command}: {message}\nusage: {usage}")

    @property
    def command(self) -> str:
        """How the user types it: ``%scanflow run``, ``%%scanflow step``."""
        return f"%{self.prog}"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _unit(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {value:g}")
    return value


def _image_shape(text: str) -> tuple[int, ...]:
    parts = text.lower().split("x")
    if len(parts) not in (2, 3) or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 8x8, got {text!r}")
    return tuple(int(p) for p in parts)


def _parser(command: str, description: str, cell: bool = False) -> CommandParser:
    # The help formatter writes usage as "%" + prog.
    prog = f"%scanflow {command}" if cell else f"scanflow {command}"
    return CommandParser(prog=prog, description=description)  # type: ignore[no-untyped-call]  # IPython's


def build_parsers() -> dict[str, CommandParser]:
    """Every subcommand's parser, by name."""
    p: dict[str, CommandParser] = {}

    p["load"] = _parser("load", "Load an application folder (holding scanflow.yaml); it becomes the current one.")
    p["load"].add_argument("path", metavar="PATH", help="The application folder, or its scanflow.yaml.")

    p["new"] = _parser("new", "Create an empty application with one workflow, save it, and make it the current one.")
    p["new"].add_argument("name", metavar="NAME", help="The application's name (lowercase letters, digits and '-').")
    p["new"].add_argument(
        "--folder", metavar="DIR", help="Where to create it (default: ./NAME, see ScanflowMagics.default_folder)."
    )
    p["new"].add_argument("--workflow", metavar="W", default="main", help="The name of its workflow (default: main).")

    p["plot"] = _parser("plot", "Draw a workflow as a live graph (returns a GraphView: g = %scanflow plot).")
    p["plot"].add_argument("workflow", metavar="WORKFLOW", nargs="?", help="Which workflow (default: the only one).")

    p["compose"] = _parser(
        "compose",
        "Open the visual composer of a workflow: add, connect, group, delete steps and edit their parameters on a "
        "canvas that edits the current application (returns a Composer: c = %scanflow compose).",
    )
    p["compose"].add_argument("workflow", metavar="WORKFLOW", nargs="?", help="Which workflow (default: the only one).")

    p["run"] = _parser(
        "run", "Run a workflow, showing its graph live; returns the RunResult. A failed step shows its error."
    )
    p["run"].add_argument("workflow", metavar="WORKFLOW", nargs="?", help="Which workflow (default: the only one).")
    p["run"].add_argument(
        "--workers", metavar="N", type=_positive, help="Steps run at once (default: ScanflowMagics.workers)."
    )
    p["run"].add_argument("--force", action="store_true", help="Run every step, even those whose cache is valid.")
    p["run"].add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="STEP.NAME=VALUE",
        help="Override a parameter (repeat for more).",
    )
    p["run"].add_argument(
        "--background", action="store_true", help="Return at once with the live graph; the run goes on in a thread."
    )
    p["run"].add_argument("--no-tracking", action="store_true", help="Do not record this run in MLflow.")

    p["resume"] = _parser("resume", "Finish a failed or interrupted run; finished steps are reused.")
    p["resume"].add_argument(
        "run_id", metavar="RUN_ID", nargs="?", help="Which run (default: the latest unfinished one)."
    )
    p["resume"].add_argument(
        "--workers", metavar="N", type=_positive, help="Steps run at once (default: as the run was started)."
    )
    p["resume"].add_argument("--background", action="store_true", help="Return at once with the live graph.")
    p["resume"].add_argument("--no-tracking", action="store_true", help="Do not record this attempt in MLflow.")

    p["status"] = _parser("status", "The state of each step of a run (returns a StatusTable).")
    p["status"].add_argument("run_id", metavar="RUN_ID", nargs="?", help="Which run (default: the latest).")

    p["runs"] = _parser(
        "runs",
        "Browse the tracked runs: filter, sort, page, compare, open (returns a RunBrowser: b = %scanflow runs; "
        "b.selected_runs() is the selection as a DataFrame). With --table, the application's runs as a DataFrame.",
    )
    p["runs"].add_argument(
        "-f", "--filter", default="", metavar="FILTER", help="MLflow search syntax, with OR between alternatives."
    )
    p["runs"].add_argument(
        "-s", "--sort", action="append", default=[], metavar="KEY", help="Sort key, e.g. 'metrics.acc DESC' (repeat)."
    )
    p["runs"].add_argument(
        "-c", "--column", action="append", default=None, metavar="NAME", help="A column, e.g. params.lr (repeat)."
    )
    p["runs"].add_argument(
        "-e", "--experiment", action="append", default=None, metavar="NAME", help="An experiment name or id (repeat)."
    )
    p["runs"].add_argument("--uri", metavar="URI", help="The tracking URI (default: the application's store).")
    p["runs"].add_argument("--flat", action="store_true", help="List child runs too, not under their parents.")
    p["runs"].add_argument(
        "--table", action="store_true", help="Return the application's runs (.scanflow/runs) as a pandas DataFrame."
    )
    p["runs"].add_argument(
        "-n", "--limit", metavar="N", type=_positive, help="Rows per page (default: 100; with --table: 20 rows)."
    )

    p["validate"] = _parser("validate", "Check the application and list every problem found.")

    p["export"] = _parser("export", "Export the application as YAML, JSON or DOT, or the JSON Schema of scanflow.yaml.")
    p["export"].add_argument(
        "--to",
        choices=("yaml", "json", "dot", "schema"),
        default="yaml",
        metavar="FORMAT",
        help="yaml (default), json, dot or schema.",
    )
    p["export"].add_argument("-o", "--output", metavar="FILE", help="Write to this file instead of printing.")
    p["export"].add_argument("-w", "--workflow", metavar="W", help="The workflow to draw (--to dot).")

    p["check"] = _parser(
        "check",
        "Check a batch for drift with a fitted detector and draw the report (returns a DriftReportView).",
    )
    p["check"].add_argument(
        "detector", metavar="DETECTOR", help="A variable holding a fitted detector, or a model URI or folder."
    )
    p["check"].add_argument(
        "batch", metavar="BATCH", help="A variable (array, DataFrame), or a .npy, .npz or .csv file."
    )
    p["check"].add_argument(
        "--alpha", type=_unit, default=0.05, help="The false-alarm rate of the verdict (default: 0.05)."
    )
    p["check"].add_argument(
        "--test",
        choices=("tail", "savage", "mann-whitney", "ks"),
        default="tail",
        help="The drift test (default: tail, the upper tail's Savage scores).",
    )
    p["check"].add_argument(
        "--top", type=_positive, default=10, metavar="N", help="How many anomalous samples to show (default: 10)."
    )
    p["check"].add_argument(
        "--image-shape", type=_image_shape, metavar="HxW", help="Draw samples as images, e.g. 8x8 for digits."
    )
    p["check"].add_argument("--id-column", default="id", metavar="NAME", help="A CSV batch's id column (default: id).")
    p["check"].add_argument("--log", action="store_true", help="Record the check as a run in the application's store.")

    p["deploy"] = _parser(
        "deploy",
        "Deploy the current application on Docker or Kubernetes with a live panel (returns a DeployPanel: "
        "d = %scanflow deploy). ACTION: panel (the default: buttons only), build, start, run, serve, status, stop, "
        "cleanup, compose, stack (Docker), export, logs, cancel (Kubernetes).",
    )
    p["deploy"].add_argument(
        "action",
        metavar="ACTION",
        nargs="?",
        default="panel",
        choices=(
            "panel",
            "build",
            "start",
            "run",
            "serve",
            "status",
            "stop",
            "cleanup",
            "compose",
            "stack",
            "export",
            "logs",
            "cancel",
        ),
    )
    p["deploy"].add_argument("target", metavar="NAME", nargs="?", help="run: the workflow; serve: the service.")
    p["deploy"].add_argument(
        "--to",
        default="docker",
        choices=("docker", "kubernetes", "swarm"),
        help="The backend (default: docker; swarm: a stack on this engine's swarm).",
    )
    p["deploy"].add_argument("--workers", metavar="N", type=_positive, help="run: steps at once.")
    p["deploy"].add_argument("--force", action="store_true", help="run: run every step, even cached ones.")
    p["deploy"].add_argument("--port", metavar="N", type=_positive, help="serve: the port to publish.")
    p["deploy"].add_argument(
        "--publish",
        metavar="ADDRESS",
        help="serve, compose, stack, --to swarm: the host address to publish ports on (default: 127.0.0.1, this "
        "machine only; a stack publishes none). 0.0.0.0 opens them to the network.",
    )
    p["deploy"].add_argument("--base-image", metavar="IMAGE", help="Base of the generated images.")
    p["deploy"].add_argument("--ca-bundle", metavar="FILE", help="An extra CA bundle for pip inside builds.")
    p["deploy"].add_argument("-o", "--output", metavar="FILE", help="compose, stack, export: write the file here.")
    kube = "Kubernetes: "
    p["deploy"].add_argument("--namespace", metavar="NS", help=kube + "the namespace (default: scanflow-APP).")
    p["deploy"].add_argument("--registry", metavar="REGISTRY", help=kube + "where images are pushed and pulled.")
    p["deploy"].add_argument("--tag", metavar="TAG", help=kube + "use images already pushed under this tag.")
    p["deploy"].add_argument(
        "--image-pull-secret", action="append", default=[], metavar="SECRET", help=kube + "a registry Secret."
    )
    p["deploy"].add_argument("--engine", choices=("argo", "jobs"), default="argo", help=kube + "how runs run.")

    p["label"] = _parser(
        "label",
        "Open the labeling grid: of a LabelingSession variable, or of a new (or resumed) session over a pool and a "
        "model (returns a LabelingWidget).",
    )
    p["label"].add_argument("pool", metavar="POOL", help="A LabelingSession variable, or the pool (an array variable).")
    p["label"].add_argument("model", metavar="MODEL", nargs="?", help="The classifier to train (a variable).")
    p["label"].add_argument("--classes", default="", metavar="A,B", help="The class names, comma-separated.")
    p["label"].add_argument("--name", default="session", help="The session's name (the same name resumes it).")
    p["label"].add_argument(
        "--ranker",
        default="hybrid",
        choices=("hybrid", "margin", "entropy", "least_confidence", "novelty", "random"),
        help="Which samples come first (default: hybrid).",
    )
    p["label"].add_argument("--batch", type=_positive, default=10, metavar="N", help="Samples shown at once.")
    p["label"].add_argument("--budget", type=_positive, metavar="N", help="Labels to ask for at most.")
    p["label"].add_argument("--holdout", metavar="X,Y", help="Held-out samples and labels for the learning curve.")
    p["label"].add_argument("--detector", metavar="D", help="A fitted detector: heatmaps, and the novelty ranker.")
    p["label"].add_argument("--image-shape", type=_image_shape, metavar="HxW", help="Draw samples as images.")
    p["label"].add_argument("--store", metavar="FILE", help="The label store (default: .scanflow/labels.db).")
    p["label"].add_argument("--annotator", metavar="NAME", help="Who labels (default: the user name).")
    p["label"].add_argument(
        "--register",
        metavar="MODEL",
        help="Log every retrain as a version of this MLflow registered model (in the current tracking store).",
    )
    p["label"].add_argument(
        "--modal", action="store_true", help="Retrain through modAL's ActiveLearner instead of a plain fit."
    )

    p["agents"] = _parser(
        "agents",
        "The agents of this kernel and of the current application (returns an AgentPanel: a = %scanflow agents). "
        "ACTION: panel (the default), list, start (NAMES, or every agent scanflow.yaml declares), stop (NAMES, or "
        "every running agent), status.",
    )
    p["agents"].add_argument(
        "action", metavar="ACTION", nargs="?", default="panel", choices=("panel", "list", "start", "stop", "status")
    )
    p["agents"].add_argument("names", metavar="NAME", nargs="*", help="Which agents (default: see ACTION).")

    p["step"] = _parser(
        "step",
        "Save the cell as the step NAME (steps/NAME.py, each --param a variable of the cell) and add it to a "
        "workflow of the current application. The cell is not run here.",
        cell=True,
    )
    p["step"].add_argument("name", metavar="NAME", help="The step's name (lowercase letters, digits and '-').")
    p["step"].add_argument("--after", default="", metavar="A,B", help="Steps it runs after, comma-separated.")
    p["step"].add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="A parameter and its default."
    )
    p["step"].add_argument(
        "-w", "--workflow", metavar="W", help="The workflow (nested: outer/inner; default: the first)."
    )
    return p


PARSERS = build_parsers()


def help_text() -> str:
    """The docstring of the magic: what ``%scanflow?`` shows."""
    parts = [
        "Define, plot, run and track ML workflows from a notebook.",
        "",
        f"Line magic: %scanflow SUBCOMMAND [options]; subcommands: {', '.join(LINE_COMMANDS)}.",
        "Cell magic: %%scanflow step NAME [options], then the step's code.",
        "`%scanflow SUBCOMMAND -h` shows one subcommand's help. Options with defaults from the configuration",
        "(%config ScanflowMagics): workers, tracking, default_folder.",
    ]
    for name in (*LINE_COMMANDS, *CELL_COMMANDS):
        parts += ["", PARSERS[name].format_help().rstrip()]
    return "\n".join(parts) + "\n"
