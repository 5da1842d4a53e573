"""Where an application's runs are tracked.

Default: SQLite in the application folder (``.scanflow/mlflow.db``, artifacts in ``.scanflow/artifacts``),
in WAL mode so step scripts, the engine and the run browser can read and write at once.
``MLFLOW_TRACKING_URI`` or the application's ``tracker.uri`` point elsewhere.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlencode, urlsplit, urlunsplit

from ..errors import TrackingError
from ..workflow import Application


@dataclass(frozen=True)
class StoreConfig:
    """A resolved tracking location."""

    uri: str
    experiment: str
    artifact_root: str | None  # None: let the server decide

    @property
    def sqlite_path(self) -> Path | None:
        """The database file of a ``sqlite:///`` URI, else None."""
        return sqlite_path(self.uri)


SQLITE_PREFIX = "sqlite:///"


def sqlite_uri(path: Path | str) -> str:
    """The tracking URI (SQLAlchemy's, so MLflow's) of the SQLite file ``path``.

    SQLAlchemy ends the path at a ``?`` and percent-decodes it, so ``?`` and ``%`` are percent-encoded; every
    other character is kept (a ``#`` too: SQLAlchemy keeps it, and MLflow, which makes the file's folder
    from the URI as it is written, then makes no second folder named ``a%23b``), so the URIs of ordinary
    paths read as they always did.

    >>> sqlite_uri("/data/a?b#c%d e/mlflow.db")
    'sqlite:////data/a%3Fb#c%25d e/mlflow.db'
    """
    return SQLITE_PREFIX + str(path).replace("%", "%25").replace("?", "%3F")


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (the inverse of :func:`sqlite_uri`, read as SQLAlchemy
    reads it), else None."""
    if not uri.startswith(SQLITE_PREFIX):
        return None
    return Path(unquote(uri[len(SQLITE_PREFIX) :].split("?", 1)[0]))


def sqlite_file_uri(path: Path | str, **query: str) -> str:
    """A ``file:`` URI of the SQLite file ``path`` for ``sqlite3.connect(..., uri=True)``, with ``query``
    (``mode="ro"``). The path is percent-encoded: SQLite ends it at ``?`` or ``#`` and decodes ``%XX``, so a
    store under a folder named ``a#b`` would otherwise open (or create) an empty database at ``a``.

    >>> sqlite_file_uri("/data/a#b/mlflow.db", mode="ro")
    'file:/data/a%23b/mlflow.db?mode=ro'
    """
    text = "file:" + quote(str(path), safe="/")
    return text + ("?" + urlencode(query) if query else "")


# Variables whose values are secrets MLflow (or a store it reaches) reads: never shown either.
SECRET_VARIABLES = (
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "DATABRICKS_TOKEN",
    "PGPASSWORD",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_CONNECTION_STRING",
)
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<authority>[^/\s'\"<>?#]*)")
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&;](?:[A-Za-z0-9_.\-]*(?:password|passwd|pwd|token|secret|api[_-]?key|access[_-]?key|"
    r"signature|sig|credential)[A-Za-z0-9_.\-]*)=)(?P<value>[^&;#\s'\"<>]+)",
    re.IGNORECASE,
)
MASK = "***"


def redact(text: str, *, keep_user: bool = True) -> str:
    """``text`` (a tracking URI, or a message or log line holding one) with its secrets masked: the password
    of every URL's user info (user info without a password, which may be a token, whole), query parameters
    named like a password, token, key or signature, and the values of :data:`SECRET_VARIABLES` that are set.
    ``keep_user=False`` drops the user info whole (for a link a browser follows: it asks for the credentials
    itself).

    Use it wherever a URI is shown: errors, log lines, ``__repr__``, widget traits, state files, MLflow tags.

    >>> redact("http://ann:s3cret@tracker:5000")
    'http://ann:***@tracker:5000'
    >>> redact("cannot connect to postgresql+psycopg2://u:p%40ss@db/mlflow?sslmode=require&password=x")
    'cannot connect to postgresql+psycopg2://u:***@db/mlflow?sslmode=require&password=***'
    >>> redact("http://ann:s3cret@tracker:5000", keep_user=False)
    'http://tracker:5000'
    """

    def authority(match: re.Match[str]) -> str:
        host = match["authority"]
        if "@" not in host:
            return match.group(0)
        userinfo, _, rest = host.rpartition("@")  # a raw '@' in a password: the last one ends the user info
        user, colon, _ = userinfo.partition(":")
        if not keep_user:
            return f"{match['scheme']}{rest}"
        # user info without a colon may be a token (https://TOKEN@host): masked whole
        return f"{match['scheme']}{user + ':' + MASK if colon else MASK}@{rest}"

    out = _SECRET_QUERY.sub(lambda m: f"{m['key']}{MASK}", _URL.sub(authority, text))
    for name in SECRET_VARIABLES:
        value = os.environ.get(name, "")
        if len(value) >= 4:  # a one-letter "secret" would mask every such letter of the text
            out = out.replace(value, MASK)
    return out


def tracking_env(uri: str) -> dict[str, str]:
    """The variables that give a child process the store ``uri``: ``MLFLOW_TRACKING_URI``, and for an http(s)
    server with a user and password in the URI, the URI without them and ``MLFLOW_TRACKING_USERNAME`` /
    ``MLFLOW_TRACKING_PASSWORD`` (which MLflow reads for basic auth). The child's MLflow then never prints or
    logs the password ("View run at http://..." after each run, its error messages).

    >>> tracking_env("http://ann:p%40ss@tracker:5000")["MLFLOW_TRACKING_URI"]
    'http://tracker:5000'
    """
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return {"MLFLOW_TRACKING_URI": uri}
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return {
        "MLFLOW_TRACKING_URI": urlunsplit(parts._replace(netloc=host)),
        "MLFLOW_TRACKING_USERNAME": unquote(user),
        "MLFLOW_TRACKING_PASSWORD": unquote(password),
    }


def default_uri(folder: Path) -> str:
    return sqlite_uri((folder / ".scanflow" / "mlflow.db").resolve())


def resolve_uri(app: Application | None) -> str | None:
    """The tracking URI, resolved in one place for the engine, the widgets, the agents and the CLI: the
    application's ``tracker.uri``, else ``MLFLOW_TRACKING_URI``, else the SQLite store in the application's
    folder. Without an application and without the variable: None (the caller decides)."""
    configured = (app.tracker.uri if app is not None and app.tracker else None) or os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    return default_uri(app.folder or Path.cwd()) if app is not None else None


def resolve(app: Application | None, *, experiment: str = "scanflow") -> StoreConfig:
    """The store for ``app`` (see :func:`resolve_uri`), its experiment (the tracker's, else the application's
    name) and where new experiments keep their artifacts: the application folder for a local store, the
    server's choice for a remote one.

    Without an application: ``MLFLOW_TRACKING_URI``, else SQLite in the working directory; the experiment
    ``experiment``; artifacts beside a SQLite file."""
    if app is None:
        uri = os.environ.get("MLFLOW_TRACKING_URI") or default_uri(Path.cwd())
        path = sqlite_path(uri)
        return StoreConfig(uri, experiment, (path.parent / "artifacts").resolve().as_uri() if path else None)
    folder = app.folder or Path.cwd()
    uri = resolve_uri(app) or default_uri(folder)
    name = (app.tracker.experiment if app.tracker else None) or app.name
    local = uri.startswith("sqlite:") or uri.startswith("file:") or "://" not in uri
    artifact_root = (folder / ".scanflow" / "artifacts").resolve().as_uri() if local else None
    return StoreConfig(uri, name, artifact_root)


def check_reachable(config: StoreConfig, timeout: float = 3.0) -> None:
    """Fail fast, with the fix, when an HTTP tracking server does not answer (MLflow itself would retry
    for minutes)."""
    parts = urlsplit(config.uri)
    if parts.scheme not in ("http", "https"):
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "localhost", port), timeout=timeout):
            pass
    except OSError as exc:
        raise TrackingError(
            f"Cannot reach the MLflow tracking server {redact(config.uri)!r} ({exc.strerror or exc}). Start it "
            "(for example 'mlflow server --host 127.0.0.1 --port 5000'), or unset MLFLOW_TRACKING_URI / "
            "the application's tracker.uri to use the SQLite store in the application folder."
        ) from None


def prepare_sqlite(config: StoreConfig) -> None:
    """Create the SQLite file in WAL mode before MLflow creates its tables (WAL is kept in the file)."""
    path = config.sqlite_path
    if path is None or path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


def use_store(app: Application, experiment: str | None = None) -> StoreConfig:
    """Make ``app``'s store MLflow's current one, and ``experiment`` (default: the application's) its current
    experiment, created with its artifacts in the application folder when it is new.

    For code that logs with MLflow's own API (``mlflow.log_metric``, ``detector.log_model``) into an application's
    store. MLflow alone would put a new experiment's artifacts under ``./mlruns`` of whatever the working directory
    happens to be.

    Example
    -------
    >>> use_store(sf.load("digits-watch"), "detectors")          # doctest: +SKIP
    >>> info = detector.log_model(registered_model_name="digits-checker")   # doctest: +SKIP
    """
    import mlflow

    config = resolve(app)
    check_reachable(config)
    prepare_sqlite(config)
    name = experiment or config.experiment
    mlflow.set_tracking_uri(config.uri)
    client = mlflow.MlflowClient(config.uri)
    if client.get_experiment_by_name(name) is None:
        client.create_experiment(name, artifact_location=config.artifact_root)
    mlflow.set_experiment(name)
    return config
