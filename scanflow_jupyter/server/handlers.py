"""The HTTP API under ``/scanflow/api/`` (every handler authenticated, XSRF checked on writes by
jupyter_server, every path confined to the server's root):

=========================  ====  ==========================================================================
route                      verb  what
=========================  ====  ==========================================================================
``apps?path=``             GET   the applications under ``path`` (default the root): workflows, latest runs
``app?path=``              GET   one application, with more runs
``run?path=&run=``         GET   a run with every node's record
``events?path=&run=``      GET   server-sent events: the run's state each time it changes, until it ends
``logs?path=&run=&node=``  GET   the tail of a step's ``stdout``/``stderr`` (``stream=``, ``lines=``)
``document``               POST  ``{path, text?, workflow?}``: the editor's view of a spec text
``compose``                POST  ``{path, text, workflow, message}``: one canvas edit applied to the text
``validate``               POST  ``{path, text?}``: every validation problem
``stubs``                  POST  ``{path, text, scripts}``: placeholder scripts for new steps
``new``                    POST  ``{path, name}``: a new application folder
``start``                  POST  ``{path, workflow}``: start a run (a worker process); ``{run_id}``
``resume``                 POST  ``{path, run}``: resume a run
``cancel``                 POST  ``{path, run}``: cancel a run
=========================  ====  ==========================================================================

Errors answer ``{"message": ...}`` with 400 (a refused edit, a bad spec), 403 (a path outside the root), 404 (no
such application or run) or 409 (a run still going).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from pathlib import Path
from typing import Any

import tornado.iostream
import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from ..engine.state import RunState, runs_dir
from ..errors import (
    PathOutsideRootError,
    RunInProgressError,
    RunNotFoundError,
    ScanflowError,
    WorkflowValidationError,
)
from ..workflow.spec import SPEC_FILE, load, loads
from . import API_BASE
from .apps import application_summary, find_application_folders, list_applications, run_detail
from .compose import MessageError, apply_message, new_application, read, write_stubs
from .jobs import Jobs
from .paths import app_folder, confine, relative_to_root

# How often the event stream looks at a run's state file, and how long it waits for a new run's first state.
POLL_S = 0.25
FIRST_STATE_S = 120.0
HEARTBEAT_S = 15.0
MAX_LOG_LINES = 2000


class ScanflowHandler(APIHandler):
    """Base of every route: the root, the jobs, JSON in and out, errors as JSON with the right status."""

    def initialize(self, root: Path, jobs: Jobs) -> None:
        self.root = root
        self.jobs = jobs

    def body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            raise tornado.web.HTTPError(400, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise tornado.web.HTTPError(400, "the body must be a JSON object")
        return data

    def text_arg(self, data: dict[str, Any], key: str, default: str | None = None) -> str:
        value = data.get(key, default)
        if not isinstance(value, str):
            raise tornado.web.HTTPError(400, f"{key!r} must be a string")
        return value

    def folder(self, relative: str, must_exist: bool = True) -> Path:
        folder = app_folder(self.root, relative)
        if must_exist and not (folder / SPEC_FILE).is_file():
            raise RunNotFoundError(f"No {SPEC_FILE} in {relative!r}; open a folder that holds an application.")
        return folder

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = str(exc.log_message) if isinstance(exc, tornado.web.HTTPError) and exc.log_message else None
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message or self._reason}))

    def _handle_request_exception(self, e: BaseException) -> None:
        # Our errors become answers with the status a client can act on, and the message a person reads.
        status = None
        if isinstance(e, PathOutsideRootError):
            status = 403
        elif isinstance(e, RunNotFoundError):
            status = 404
        elif isinstance(e, RunInProgressError):
            status = 409
        elif isinstance(e, ScanflowError | MessageError):
            status = 400
        if status is None or self._finished:
            super()._handle_request_exception(e)
            return
        self.set_status(status)
        payload: dict[str, Any] = {"message": str(e)}
        if isinstance(e, WorkflowValidationError):
            payload["problems"] = [{"where": p.where, "message": p.message} for p in e.problems]
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload))


class AppsHandler(ScanflowHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        start = confine(self.root, self.get_argument("path", ""))
        apps = list_applications(self.root, start)
        self.reply({"root": self.root.name, "apps": apps, "limited": len(apps) >= 1000})


class AppHandler(ScanflowHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        folder = self.folder(self.get_argument("path", ""))
        self.reply(application_summary(self.root, folder, runs=int(self.get_argument("runs", "20"))))


def _state(folder: Path, run_id: str) -> RunState:
    if "/" in run_id or run_id.startswith("."):
        raise RunNotFoundError(f"{run_id!r} is not a run id; run ids look like 20261202-032200-3f9a1c.")
    return RunState.load(folder, run_id)


class RunHandler(ScanflowHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        folder = self.folder(self.get_argument("path", ""))
        state = _state(folder, self.get_argument("run"))
        self.reply(run_detail(self.root, folder, state))


class EventsHandler(ScanflowHandler):
    """Server-sent events: ``state`` (the run as ``run`` answers it) on every change of its state file,
    ``waiting`` while a run just started has no state yet, and ``end`` once it is over."""

    @tornado.web.authenticated
    async def get(self) -> None:
        folder = self.folder(self.get_argument("path", ""))
        run_id = self.get_argument("run")
        if "/" in run_id or run_id.startswith("."):
            raise RunNotFoundError(f"{run_id!r} is not a run id.")
        path = runs_dir(folder) / run_id / "state.json"
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        seen: float | None = None
        waited = 0.0
        quiet = 0.0
        connection: Any = self.request.connection
        while not connection.stream.closed():
            try:
                mtime = path.stat().st_mtime_ns / 1e9
            except FileNotFoundError:
                if waited > FIRST_STATE_S or not (self.jobs.starting(run_id) or waited < 5.0):
                    await self.send("end", {"run_id": run_id, "status": "unknown"})
                    return
                if waited == 0.0:
                    await self.send("waiting", {"run_id": run_id})
                waited += POLL_S
                await asyncio.sleep(POLL_S)
                continue
            if mtime != seen:
                seen = mtime
                try:
                    detail = run_detail(self.root, folder, RunState.load(folder, run_id))
                except (ValueError, RunNotFoundError):  # replaced under us: read it next time
                    detail = None
                if detail is not None:
                    await self.send("state", detail)
                    if detail["status"] != "running" and not self.jobs.starting(run_id, detail["updated"]):
                        await self.send("end", {"run_id": run_id, "status": detail["status"]})
                        return
                quiet = 0.0
            elif quiet >= HEARTBEAT_S:
                self.write(": keep-alive\n\n")
                await self.flush()
                quiet = 0.0
            quiet += POLL_S
            await asyncio.sleep(POLL_S)

    async def send(self, event: str, data: Any) -> None:
        self.write(f"event: {event}\ndata: {json.dumps(data)}\n\n")
        with contextlib.suppress(tornado.iostream.StreamClosedError):  # the browser went away: the loop ends
            await self.flush()


class LogsHandler(ScanflowHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        folder = self.folder(self.get_argument("path", ""))
        state = _state(folder, self.get_argument("run"))
        node = self.get_argument("node")
        if node not in state.nodes:
            raise RunNotFoundError(f"Run {state.run_id} has no step {node!r}; its steps: {', '.join(state.nodes)}.")
        stream = self.get_argument("stream", "stderr")
        if stream not in ("stdout", "stderr"):
            raise tornado.web.HTTPError(400, "stream must be stdout or stderr")
        lines = max(1, min(int(self.get_argument("lines", "200")), MAX_LOG_LINES))
        file = state.log_dir(node) / f"{stream}.txt"
        confine(folder, relative_to_root(folder, file))  # a node address with '..' cannot lead out
        tail: deque[str] = deque(maxlen=lines)
        if file.is_file():
            with open(file, encoding="utf-8", errors="replace") as fh:
                tail.extend(fh)
        self.reply({"node": node, "stream": stream, "text": "".join(tail), "exists": file.is_file()})


class DocumentHandler(ScanflowHandler):
    @tornado.web.authenticated
    def post(self) -> None:
        data = self.body()
        folder = self.folder(self.text_arg(data, "path"), must_exist="text" not in data)
        text = data.get("text")
        if not isinstance(text, str):
            text = (folder / SPEC_FILE).read_text(encoding="utf-8")
        workflow = data.get("workflow")
        self.reply(read(text, folder, workflow if isinstance(workflow, str) else None))


class ComposeHandler(ScanflowHandler):
    @tornado.web.authenticated
    def post(self) -> None:
        data = self.body()
        folder = self.folder(self.text_arg(data, "path"), must_exist=False)
        message = data.get("message")
        if not isinstance(message, dict):
            raise tornado.web.HTTPError(400, "'message' must be an object")
        workflow = data.get("workflow")
        self.reply(
            apply_message(self.text_arg(data, "text"), workflow if isinstance(workflow, str) else None, message, folder)
        )


class ValidateHandler(ScanflowHandler):
    @tornado.web.authenticated
    def post(self) -> None:
        data = self.body()
        folder = self.folder(self.text_arg(data, "path"), must_exist="text" not in data)
        text = data.get("text")
        if not isinstance(text, str):
            text = (folder / SPEC_FILE).read_text(encoding="utf-8")
        try:
            problems = loads(text, folder=folder).problems()
        except WorkflowValidationError as exc:
            problems = exc.problems
        self.reply({"problems": [{"where": p.where, "message": p.message} for p in problems]})


class StubsHandler(ScanflowHandler):
    @tornado.web.authenticated
    def post(self) -> None:
        data = self.body()
        folder = self.folder(self.text_arg(data, "path"), must_exist=False)
        scripts = data.get("scripts")
        if not isinstance(scripts, list):
            raise tornado.web.HTTPError(400, "'scripts' must be a list")
        written = write_stubs(self.text_arg(data, "text"), folder, [str(s) for s in scripts])
        self.reply({"written": written})


class NewHandler(ScanflowHandler):
    @tornado.web.authenticated
    def post(self) -> None:
        data = self.body()
        folder = confine(self.root, self.text_arg(data, "path"))
        if folder == self.root.resolve():
            raise tornado.web.HTTPError(400, "name a new folder for the application")
        name = self.text_arg(data, "name", folder.name)
        spec = new_application(folder, name)
        self.reply({"path": relative_to_root(self.root, folder), "spec": relative_to_root(self.root, spec)}, 201)


class StartHandler(ScanflowHandler):
    @tornado.web.authenticated
    def post(self) -> None:
        data = self.body()
        folder = self.folder(self.text_arg(data, "path"))
        app = load(folder)
        workflow = app.workflow(data.get("workflow") if isinstance(data.get("workflow"), str) else None).name
        app.validate()  # a bad application is refused here, with every problem, before a process starts
        self.reply({"run_id": self.jobs.start_run(folder, workflow), "workflow": workflow}, 202)


class ResumeHandler(ScanflowHandler):
    @tornado.web.authenticated
    def post(self) -> None:
        data = self.body()
        folder = self.folder(self.text_arg(data, "path"))
        run_id = self.text_arg(data, "run")
        _state(folder, run_id)
        self.reply({"run_id": self.jobs.start_resume(folder, run_id)}, 202)


class CancelHandler(ScanflowHandler):
    @tornado.web.authenticated
    def post(self) -> None:
        data = self.body()
        folder = self.folder(self.text_arg(data, "path"))
        run_id = self.text_arg(data, "run")
        if "/" in run_id or run_id.startswith("."):
            raise RunNotFoundError(f"{run_id!r} is not a run id.")
        self.reply({"cancelled": self.jobs.cancel(folder, run_id)})


ROUTES: list[tuple[str, type[ScanflowHandler]]] = [
    ("apps", AppsHandler),
    ("app", AppHandler),
    ("run", RunHandler),
    ("events", EventsHandler),
    ("logs", LogsHandler),
    ("document", DocumentHandler),
    ("compose", ComposeHandler),
    ("validate", ValidateHandler),
    ("stubs", StubsHandler),
    ("new", NewHandler),
    ("start", StartHandler),
    ("resume", ResumeHandler),
    ("cancel", CancelHandler),
]


def setup_handlers(server_app: Any) -> None:
    """Register every route on the server's web application, rooted at the server's root folder."""
    web_app = server_app.web_app
    root = Path(server_app.root_dir).expanduser().resolve()
    jobs = Jobs()
    base = web_app.settings["base_url"]
    handlers = [
        (url_path_join(base, API_BASE, route), handler, {"root": root, "jobs": jobs}) for route, handler in ROUTES
    ]
    web_app.add_handlers(".*$", handlers)


__all__ = ["ROUTES", "find_application_folders", "setup_handlers"]
