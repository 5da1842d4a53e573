"""Start a step: ``python .../engine/launch.py (script PATH | call MODULE:FUNCTION) [--name value ...]``.

The launcher lets the engine start a step before MLflow has created the step's run: when
``SCANFLOW_RUN_ID_FD`` is set, the launcher reads the run id from that pipe (the engine writes it as soon as
the run exists, usually before this interpreter has finished starting), puts it in ``MLFLOW_RUN_ID`` and only
then runs the step. So run creation overlaps the step's interpreter start-up instead of preceding it.

A script runs as ``__main__`` with ``sys.argv`` and ``sys.path[0]`` as ``python PATH ...`` would set them. A
function's arguments are converted with its annotations (int, float, bool, str); the working directory (the
application folder) is on ``sys.path``. This file runs as a script, not with ``-m`` (runpy and pkgutil
cost 8 ms at each start), and imports nothing but ``os`` and ``sys`` before the step's own code runs.
"""

from __future__ import annotations

import os
import sys

EXIT_NO_RUN = 70  # the engine could not create the step's MLflow run


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
    if argv[0] == "call":
        return call(argv[1], argv[2:])
    script(argv[1], argv[2:])
    return 0


LAUNCHER = os.path.abspath(__file__)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
