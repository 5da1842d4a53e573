"""The notebook layer: the ``%scanflow`` magics and the widgets' Python models.

The only layer that imports IPython and ipywidgets. ``%load_ext scanflow_jupyter`` registers the magics
(``scanflow_jupyter.load_ipython_extension`` imports this package lazily, so ``import scanflow_jupyter``
stays free of both).

Example
-------
>>> %load_ext scanflow_jupyter                 # doctest: +SKIP
>>> %scanflow load examples/tabular            # doctest: +SKIP
>>> %scanflow run --workers 2                  # doctest: +SKIP
>>> c = %scanflow compose                      # doctest: +SKIP
"""

from __future__ import annotations

from .magics import ScanflowMagics, load_ipython_extension
from .status import StatusTable
from .widgets import AgentPanel, Composer, DriftReportView, GraphView, LabelingWidget, RunBrowser

__all__ = [
    "AgentPanel",
    "Composer",
    "DriftReportView",
    "GraphView",
    "LabelingWidget",
    "RunBrowser",
    "ScanflowMagics",
    "StatusTable",
    "load_ipython_extension",
]
