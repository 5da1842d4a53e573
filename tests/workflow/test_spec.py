"""scanflow.yaml: canonical round trips, versioning, malformed files, the JSON Schema file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import yaml

from scanflow_jupyter.errors import SchemaVersionError, SpecFormatError, WorkflowValidationError
from scanflow_jupyter.workflow import Application, Executor, Parameter, Workflow, dump_yaml, json_schema, load, loads
from scanflow_jupyter.workflow.spec import schema_file, write_schema

ROOT = Path(__file__).resolve().parents[2]


def test_example_round_trips_byte_for_byte() -> None:
    path = ROOT / "examples" / "tabular" / "scanflow.yaml"
    app = load(path)
    assert app.to_yaml() == path.read_text()
    assert loads(app.to_yaml()) == app


def test_python_and_yaml_build_the_same_object(tmp_path: Path) -> None:
    app = Application(
        name="demo",
        requirements=["numpy"],
        workflows=[
            Workflow(
                name="main",
                nodes=[
                    Executor(
                        name="prep",
                        script="prep.py",
                        parameters={"rows": 10, "path": Parameter(type="path", default="d")},
                    ),
                    Workflow(
                        name="inner", depends_on=["prep"], nodes=[Executor(name="fit", function="m:f", timeout=5)]
                    ),
                ],
            )
        ],
    )
    saved = app.save(tmp_path)
    again = load(saved)
    assert again == app
    assert again.folder == tmp_path.resolve()
    assert dump_yaml(again) == saved.read_text()
    assert "rows: 10" in saved.read_text()  # shorthand kept
    assert "type: path" in saved.read_text()  # a non-inferable type written in full


def test_json_form_loads_too(tmp_path: Path) -> None:
    app = load(ROOT / "examples" / "tabular")
    target = app.save(tmp_path / "copy.json")
    assert json.loads(target.read_text())["name"] == "tabular"
    assert loads(target.read_text()) == app


@pytest.mark.parametrize(
    "text,error,message",
    [
        (
            "scanflow: 1\nname: [unclosed\n",
            SpecFormatError,
            r"line \d+, column \d+: not valid YAML: .*; fix the syntax there",
        ),
        ("- just\n- a list\n", SpecFormatError, r"expected a mapping with 'scanflow: 1'"),
        ("name: x\nworkflows: []\n", SchemaVersionError, r"missing schema version; add 'scanflow: 1'"),
        ("scanflow: 2\nname: x\n", SchemaVersionError, r"unknown schema version 2.*upgrade scanflow-jupyter"),
        ("scanflow: banana\nname: x\n", SchemaVersionError, r"unknown schema version 'banana'.*use 'scanflow: 1'"),
        ("scanflow: 1\nname: x\nworkflows: 3\n", WorkflowValidationError, r"workflows: Input should be a valid list"),
    ],
    ids=["malformed YAML", "not a mapping", "no version", "newer version", "nonsense version", "wrong shape"],
)
def test_bad_spec_files(text: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        loads(text, source="scanflow.yaml")


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(SpecFormatError, match=r"scanflow.yaml: no such file"):
        load(tmp_path)


def test_schema_file_is_current() -> None:
    """Golden file: regenerate with SCANFLOW_REGENERATE=1 after changing the model."""
    if os.environ.get("SCANFLOW_REGENERATE"):
        write_schema()
    assert json.loads(schema_file().read_text()) == json_schema()


def test_schema_accepts_the_example_and_rejects_nonsense() -> None:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    data = yaml.safe_load((ROOT / "examples" / "tabular" / "scanflow.yaml").read_text())
    jsonschema.validate(data, schema)
    data["workflows"][0]["nodes"][0]["retries"] = "many"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)
