"""Run a ``module:function`` executor: ``python -m scanflow_jupyter.engine.call module:function --name value``.

Arguments are converted with the function's annotations (int, float, bool, str); the application folder
is the working directory and is on ``sys.path``. Kept free of heavy imports: it starts once per step.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import typing


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


def main(argv: list[str]) -> int:
    if not argv or ":" not in argv[0]:
        print("usage: python -m scanflow_jupyter.engine.call module:function [--name value ...]", file=sys.stderr)
        return 2
    module_name, func_name = argv[0].split(":", 1)
    sys.path.insert(0, ".")
    func = importlib.import_module(module_name)
    for part in func_name.split("."):
        func = getattr(func, part)
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        hints = {}
    params = inspect.signature(func).parameters  # type: ignore[arg-type]
    kwargs: dict[str, object] = {}
    rest = argv[1:]
    if len(rest) % 2:
        print(f"arguments must come in '--name value' pairs, got {rest!r}", file=sys.stderr)
        return 2
    for flag, value in zip(rest[::2], rest[1::2], strict=True):
        name = flag.lstrip("-").replace("-", "_")
        if name not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            print(f"{argv[0]} takes no parameter {name!r}; it takes {', '.join(params)}", file=sys.stderr)
            return 2
        kwargs[name] = _convert(value, hints.get(name, str))
    result = func(**kwargs)  # type: ignore[operator]
    if result is not None:
        print(repr(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
