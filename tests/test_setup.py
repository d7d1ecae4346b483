"""The set-up the two commands run: Python packages come only from ``requirements.lock``, pinned with hashes.

- every dependency ``pyproject.toml`` declares (runtime and every extra) is pinned in the lock with sha256 hashes, so a fresh
  machine installs what the pins were made with (a dependency added without ``make lock`` fails here);
- the Makefile's install step (``make pydeps``) refuses a package whose hash differs from the lock's — run for real
  against a local wheel in a throwaway venv (no network).
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _locked() -> dict[str, list[str]]:
    """name -> its hashes, from the lock's ``name==version \\`` blocks."""
    out: dict[str, list[str]] = {}
    current: str | None = None
    for line in LOCK.read_text().splitlines():
        if re.match(r"^[A-Za-z0-9]", line):
            pin = line.split(";")[0].split("\\")[0].strip()
            assert "==" in pin, f"not an exact pin in the lock: {line}"
            current = _name(pin.split("==")[0])
            out.setdefault(current, [])
        elif line.strip().startswith("--hash=sha256:") and current:
            out[current].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
    return out


def test_every_declared_dependency_is_pinned_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *(r for group in project["optional-dependencies"].values() for r in group)]
    locked = _locked()
    missing = sorted({_name(r) for r in declared} - set(locked))
    assert not missing, f"not in requirements.lock (run `make lock`): {missing}"
    unhashed = sorted(name for name, hashes in locked.items() if not hashes)
    assert not unhashed, f"pinned without hashes: {unhashed}"
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for hashes in locked.values() for h in hashes)


def _tiny_wheel(folder: Path) -> tuple[Path, str]:
    """A minimal pure-Python wheel built by hand (no build backend, no network); returns it and its sha256."""
    name, version = "tinylockcheck", "1.0"
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel, hashlib.sha256(wheel.read_bytes()).hexdigest()


@pytest.mark.slow
def test_make_pydeps_installs_from_the_lock_and_refuses_a_changed_hash(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _, good = _tiny_wheel(wheels)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)

    def make_pydeps(digest: str) -> subprocess.CompletedProcess[str]:
        lock = tmp_path / "test.lock"
        lock.write_text(f"tinylockcheck==1.0 \\\n    --hash=sha256:{digest}\n")
        return subprocess.run(
            ["make", "--no-print-directory", "-C", str(ROOT), "pydeps", f"VENV={venv}", f"LOCK={lock}",
             f"PIP_INSTALL_OPTS=--no-index --find-links {wheels}"],
            capture_output=True, text=True, timeout=300,
        )

    bad = ("0" if good[0] != "0" else "1") + good[1:]  # one hex digit changed
    refused = make_pydeps(bad)
    assert refused.returncode != 0
    assert "do not match the hashes" in (refused.stdout + refused.stderr).lower()
    assert not list(venv.glob("lib/python*/site-packages/tinylockcheck"))

    installed = make_pydeps(good)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert list(venv.glob("lib/python*/site-packages/tinylockcheck"))
