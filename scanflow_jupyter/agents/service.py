"""Agents as long-running services: ``python -m scanflow_jupyter.agents``.

::

    python -m scanflow_jupyter.agents run APP [--agent NAME]...   # until SIGTERM or Ctrl-C
    python -m scanflow_jupyter.agents run APP --once              # one tick of each, then exit
    python -m scanflow_jupyter.agents list APP                    # the agents APP declares

``APP`` is an application folder (or its ``scanflow.yaml``); the agents are those it declares under ``agents:``
(all by default). Decisions, errors and retries are logged to stdout (what ``docker logs`` shows), and every
decision is an MLflow run of the application's store (``MLFLOW_TRACKING_URI`` in a container). SIGTERM stops
the agents cleanly: a workflow one is running is cancelled, and the exit code is 0.

Exit codes: 0 stopped cleanly (``--once``: no decision failed); 1 a decision failed (``--once``); 2 bad input (no
such application or agent, a bad setting).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

from ..errors import ScanflowError
from ..tracking.store import redact

if TYPE_CHECKING:
    from .runtime import Agent

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scanflow_jupyter.agents", description="Run the agents an application declares."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="Run agents until SIGTERM (or one tick with --once).")
    run.add_argument("app", help="The application folder, or its scanflow.yaml.")
    run.add_argument(
        "--agent", action="append", default=[], metavar="NAME", help="An agent to run (repeat; default: all)."
    )
    run.add_argument("--once", action="store_true", help="One tick of each agent, then exit.")
    run.add_argument("--interval", type=float, metavar="S", help="Seconds between ticks (default: each agent's).")
    listing = commands.add_parser("list", help="List the agents an application declares.")
    listing.add_argument("app", help="The application folder, or its scanflow.yaml.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stdout)
    from ..workflow import load

    try:
        app = load(args.app)
        if args.command == "list":
            for spec in app.agents:
                print(f"{spec.name}\t{spec.kind}\tevery {spec.interval:g} s")
            return EXIT_OK
        from .spec import build_all

        agents = build_all(app, args.agent)
    except ScanflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not agents:
        print(f"error: application {app.name!r} declares no agents (add an 'agents:' list)", file=sys.stderr)
        return EXIT_USAGE
    for agent in agents:
        if args.interval:
            agent.interval = args.interval
    if args.once:
        failed = False
        for agent in agents:
            for decision in agent.tick():
                print(f"{agent.name}: {decision.status}: {decision.summary()}")
                failed = failed or not decision.ok
            print(agent.status())
        return EXIT_FAILED if failed else EXIT_OK
    return _serve(agents)


def _serve(running: list[Agent]) -> int:
    done = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("scanflow_jupyter.agents").info("signal %d: stopping %d agent(s)", signum, len(running))
        for agent in running:
            agent.request_stop()
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for agent in running:
        agent.start()
        logging.getLogger("scanflow_jupyter.agents").info(
            "agent %s (%s) started: a tick every %g s, decisions in MLflow experiment %r of %s",
            agent.name, agent.kind, agent.interval, agent.log.experiment if agent.log else "-",
            redact(agent.tracking_uri),
        )  # fmt: skip
    while not done.wait(1.0):
        pass
    for agent in running:
        agent.stop()
    return EXIT_OK
