"""``python -m scanflow_jupyter.cli``: the ``scanflow`` command."""

from __future__ import annotations

from . import main

main()
