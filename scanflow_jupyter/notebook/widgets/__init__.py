"""Widget models (Python side); each mirrors a view in ``labextension/src/widgets/`` of the same name."""

from __future__ import annotations

from .agents import AgentPanel
from .composer import Composer
from .drift import DriftReportView
from .graph import GraphView
from .labeling import LabelingWidget
from .runs import RunBrowser

__all__ = ["AgentPanel", "Composer", "DriftReportView", "GraphView", "LabelingWidget", "RunBrowser"]
