"""Build a Python base image offline, from a Debian root filesystem, for sites with no image registry.

``debootstrap`` fetches Debian packages from the machine's own apt mirror (read from its apt sources, never
hard-coded), the tree is packed with ``tar`` and imported into the engine (``docker import``). The result
has ``python3`` with ``venv`` and ``pip``, ``ca-certificates`` and ``passwd`` (for a non-root user): what the
generated Dockerfiles need. ``scanflow docker base-image`` calls :func:`build_base_image`.

Example
-------
>>> build_base_image("scanflow/debian-python:bookworm", on_line=print)   # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from ...errors import BackendError, ImageBuildError
from .client import LABEL_MANAGED, LABEL_ROLE, check_image_name, connect

OFFLINE_BASE_IMAGE = "scanflow/debian-python:bookworm"
PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates", "passwd")
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


def apt_mirror(suite: str = "bookworm", sources: Iterable[Path] = APT_SOURCES) -> str:
    """The first Debian mirror in this machine's apt sources that serves ``suite`` (one-line and deb822
    formats), e.g. ``http://deb.debian.org/debian``.

    Raises
    ------
    BackendError
        When no source serves ``suite``; the message says which files were read.
    """
    read: list[str] = []
    for root in sources:
        files = sorted(root.glob("*.list")) + sorted(root.glob("*.sources")) if root.is_dir() else [root]
        for path in files:
            try:
                text = path.read_text()
            except OSError:
                continue
            read.append(str(path))
            for uri, suites in _entries(text):
                if suite in suites and "security" not in uri:
                    return uri.rstrip("/")
    raise BackendError(
        f"No apt source for Debian {suite!r} found in {', '.join(read) or 'the apt sources'}; pass the mirror "
        "explicitly ('scanflow docker base-image --mirror http://deb.debian.org/debian')."
    )


def _entries(text: str) -> Iterable[tuple[str, list[str]]]:
    if re.search(r"^URIs:", text, re.M):  # deb822 stanzas
        for stanza in re.split(r"\n\s*\n", text):
            fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M))
            if "deb" not in fields.get("Types", "").split():
                continue
            for uri in fields.get("URIs", "").split():
                yield uri, fields.get("Suites", "").split()
        return
    for line in text.splitlines():
        parts = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
        if len(parts) >= 3 and parts[0] == "deb":
            yield parts[1], [parts[2]]


def build_base_image(
    name: str = OFFLINE_BASE_IMAGE,
    *,
    suite: str = "bookworm",
    mirror: str | None = None,
    packages: Iterable[str] = PACKAGES,
    on_line: Callable[[str], None] | None = None,
    workdir: Path | None = None,
) -> str:
    """Build ``name`` from a minimal Debian ``suite`` with Python, offline; returns the image id.

    Needs root (debootstrap creates device nodes and chroots) and the ``debootstrap`` program.
    """
    check_image_name(name)
    say = on_line or (lambda _line: None)
    if shutil.which("debootstrap") is None:
        raise BackendError("debootstrap is not installed: 'sudo apt-get install debootstrap', then try again.")
    if os.geteuid() != 0:
        raise BackendError("Building a base image with debootstrap needs root: run it with sudo.")
    client = connect()
    mirror = mirror or apt_mirror(suite)
    with tempfile.TemporaryDirectory(prefix="scanflow-rootfs-", dir=workdir) as tmp:
        root = Path(tmp) / "rootfs"
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", suite, str(root), mirror]
        say(f"$ {' '.join(cmd)}")
        _stream(cmd, say, f"debootstrap of Debian {suite} from {mirror} failed", name)
        # Smaller image, and no stale package lists pretending to be current.
        for junk in ("var/lib/apt/lists", "var/cache/apt/archives", "usr/share/doc", "usr/share/man"):
            shutil.rmtree(root / junk, ignore_errors=True)
        (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
        archive = Path(tmp) / "rootfs.tar"
        say(f"packing {root} into {archive.name}")
        _stream(["tar", "-C", str(root), "--numeric-owner", "-cf", str(archive), "."], say, "tar failed", name)
        say(f"importing {archive.name} as {name}")
        repo, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
        changes = [
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            f'LABEL {LABEL_MANAGED}="true" {LABEL_ROLE}="base-image" scanflow.debian.suite="{suite}"',
            'CMD ["python3"]',
        ]
        result = client.api.import_image_from_file(str(archive), repository=repo, tag=tag, changes=changes)
    image = client.images.get(name)
    say(f"built {name} ({image.short_id}, {image.attrs.get('Size', 0) / 1e6:.0f} MB); result: {str(result)[:80]}")
    return str(image.id)


def _stream(cmd: list[str], say: Callable[[str], None], what: str, image: str) -> None:
    lines: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            lines.append(line)
            say(line)
    if proc.returncode != 0:
        tail = "\n".join(lines[-15:])
        failed = next((x for x in reversed(lines) if x.startswith(("E:", "W: Failure"))), lines[-1] if lines else "")
        raise ImageBuildError(f"{what} (exit code {proc.returncode}):\n{tail}", image, failed, tail)


def has_image(name: str) -> bool:
    """Whether the engine has image ``name``."""
    import docker.errors

    try:
        connect().images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True
