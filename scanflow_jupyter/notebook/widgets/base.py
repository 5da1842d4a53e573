"""What the widgets share: the labextension module their views come from (every widget), and for the widgets of
one workflow, the application and workflow they show and a text representation for frontends that cannot draw
the widget.

Example
-------
>>> from scanflow_jupyter.notebook.widgets.base import MODULE_NAME
>>> MODULE_NAME
'scanflow-jupyter'
"""

from __future__ import annotations

from typing import Any

import ipywidgets
from traitlets import Unicode

from ..._version import __version__
from ...workflow import Application

MODULE_NAME = "scanflow-jupyter"
MODULE_VERSION = "^" + __version__


class ScanflowWidget(ipywidgets.DOMWidget):  # type: ignore[misc]  # DOMWidget is untyped (Any)
    """A widget drawn by the scanflow-jupyter labextension.

    A subclass sets ``_model_name`` and ``_view_name``: the TypeScript model and view in
    ``labextension/src/widgets/`` (see PROTOCOL.md).
    """

    _model_module = Unicode(MODULE_NAME).tag(sync=True)
    _view_module = Unicode(MODULE_NAME).tag(sync=True)
    _model_module_version = Unicode(MODULE_VERSION).tag(sync=True)
    _view_module_version = Unicode(MODULE_VERSION).tag(sync=True)


class WorkflowWidget(ScanflowWidget):
    """A widget drawn by the scanflow-jupyter labextension that shows workflow ``_workflow`` of ``_app``.

    A subclass sets ``_model_name`` and ``_view_name``, sets ``_app`` and ``_workflow`` before calling
    ``super().__init__``, and writes ``_text``: what nbconvert, nbviewer or a notebook without the
    labextension show instead of the widget (``text/plain``).
    """

    _app: Application
    _workflow: str

    @property
    def app(self) -> Application:
        """The application shown (the same object the notebook holds)."""
        return self._app

    @property
    def workflow(self) -> str:
        """The name of the workflow shown."""
        return self._workflow

    def _text(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data: dict[str, Any] | None = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            data["text/plain"] = self._text()  # what a frontend without the widget shows
        return data
