"""Start a step: ``python .../engine/launch.py (script PATH | call MODULE:FUNCTION) [--name value ...]``.

The launcher lets the engine start a step before MLflow has created the step's run: when
``SCANFLOW_RUN_ID_FD`` is set, the launcher reads the run id from that pipe (the engine writes it as soon as
the run exists, usually before this interpreter has finished starting), puts it in ``MLFLOW_RUN_ID`` and only
then runs the step. So run creation overlaps the step's interpreter start-up instead of preceding it.

A run tracked through the store's journal (``tracking/journal.py``) gets its run id before MLflow has the run: the
drainer creates it a moment later. A step that imports MLflow (to log into its run) then waits, at that import,
until the run is in the store; a step that does not never waits.

A script runs as ``__main__`` with ``sys.argv`` and ``sys.path[0]`` as ``python PATH ...`` would set them. A
function's arguments are converted with its annotations (int, float, bool, str); the working directory (the
application folder) is on ``sys.path``; what it returns is its output (``scanflow_jupyter.step``). This file runs
as a script, not with ``-m`` (runpy and pkgutil cost 8 ms at each start), and imports nothing but ``os`` and ``sys``
before the step's own code runs.
"""

from __future__ import annotations

import os
import sys

EXIT_NO_RUN = 70  # the engine could not create the step's MLflow run
RUN_WAIT = 300.0  # seconds a step that imports MLflow waits for the drainer to create its run


def _take_run_id() -> bool:
    fd = os.environ.pop("SCANFLOW_RUN_ID_FD", None)
    if fd is None:
        return True
    chunks = []
    with os.fdopen(int(fd), "rb") as pipe:
        while chunk := pipe.read(256):
            chunks.append(chunk)
    run_id = b"".join(chunks).decode().strip()
    if not run_id:
        print("scanflow: the step's MLflow run could not be created; the step did not run", file=sys.stderr)
        return False
    os.environ["MLFLOW_RUN_ID"] = run_id
    return True


class _AwaitRun:
    """A finder that, the first time MLflow is imported, waits until the journal has created the step's run."""

    def __init__(self, journal: str, run_id: str) -> None:
        self.journal, self.run_id = journal, run_id

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] != "mlflow":
            return None
        sys.meta_path.remove(self)
        import sqlite3
        import time
        from urllib.parse import quote

        with open(self.journal + ".wanted", "ab"):  # the drainer, idle while the run is short, starts now
            pass
        uri = "file:" + quote(self.journal, safe="/") + "?mode=ro"
        query = "SELECT 1 FROM writes WHERE done = 0 AND op = 'create_run' AND run_id = ? LIMIT 1"
        deadline = time.monotonic() + RUN_WAIT
        while time.monotonic() < deadline:
            try:
                conn = sqlite3.connect(uri, uri=True, timeout=10)
                try:
                    if conn.execute(query, (self.run_id,)).fetchone() is None:
                        return None
                finally:
                    conn.close()
            except sqlite3.Error:
                return None  # no journal (compacted and gone): the run is in the store
            time.sleep(0.02)
        print(f"scanflow: MLflow has not got run {self.run_id} yet; logging to it may fail", file=sys.stderr)
        return None


def _await_run_on_mlflow_import() -> None:
    run_id = os.environ.get("MLFLOW_RUN_ID")
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not run_id or not uri.startswith("sqlite:///"):
        return
    db = uri[len("sqlite:///") :].split("?", 1)[0]
    if "%" in db:
        from urllib.parse import unquote

        db = unquote(db)
    journal = db + ".journal"  # as tracking/journal.py names it
    if os.path.exists(journal):
        sys.meta_path.insert(0, _AwaitRun(journal, run_id))


def _convert(value: str, annotation: object) -> object:
    if annotation is bool:
        low = value.lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise SystemExit(f"expected true or false, got {value!r}")
    if annotation in (int, float):
        return annotation(value)
    return value


def call(target: str, rest: list[str]) -> int:
    """Import ``module:function`` and call it with ``--name value`` pairs as keyword arguments."""
    import importlib
    import inspect
    import typing

    module_name, func_name = target.split(":", 1)
    sys.path.insert(0, os.getcwd())
    func: typing.Any = importlib.import_module(module_name)
    for part in func_name.split("."):
        func = getattr(func, part)
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        hints = {}
    params = inspect.signature(func).parameters
    if len(rest) % 2:
        print(f"arguments must come in '--name value' pairs, got {rest!r}", file=sys.stderr)
        return 2
    kwargs: dict[str, object] = {}
    for flag, value in zip(rest[::2], rest[1::2], strict=True):
        name = flag.lstrip("-").replace("-", "_")
        if name not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            print(f"{target} takes no parameter {name!r}; it takes {', '.join(params)}", file=sys.stderr)
            return 2
        kwargs[name] = _convert(value, hints.get(name, str))
    result = func(**kwargs)
    if result is not None:
        print(repr(result))
        if os.environ.get("SCANFLOW_VALUES_DIR"):
            return _give(result)
    return 0


def _give(result: object) -> int:
    """A function step's return value as its outputs (see ``scanflow_jupyter.step.returned``). A value that cannot
    be passed on (not JSON, too large, or no scanflow-jupyter where the step runs) is said on stderr and the step
    still succeeds, as it did before values were carried: a function that returns a model keeps working, and a step
    that reads the value is told it was not given."""
    try:
        from scanflow_jupyter import errors, step
    except ImportError:
        print(
            "scanflow: the function's return value is not passed on to the steps after it: scanflow-jupyter is not "
            "installed where the step runs; add it to the step's requirements to pass the value on",
            file=sys.stderr,
        )
        return 0
    try:
        step.returned(result)
    except errors.ScanflowError as exc:
        print(f"scanflow: the function's return value is not passed on to the steps after it: {exc}", file=sys.stderr)
    return 0


def script(path: str, rest: list[str]) -> None:
    """Run ``path`` as ``python path rest...`` would: a fresh ``__main__`` module, its argv and sys.path."""
    with open(path, "rb") as fh:
        code = compile(fh.read(), path, "exec")
    sys.argv = [path, *rest]
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    main = type(sys)("__main__")
    main.__file__ = path
    main.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("script", "call"):
        print("usage: python launch.py (script PATH | call MODULE:FUNCTION) [--name value ...]", file=sys.stderr)
        return 2
    if not _take_run_id():
        return EXIT_NO_RUN
    _await_run_on_mlflow_import()
    if argv[0] == "call":
        return call(argv[1], argv[2:])
    script(argv[1], argv[2:])
    return 0


LAUNCHER = os.path.abspath(__file__)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
