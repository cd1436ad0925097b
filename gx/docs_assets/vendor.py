"""Refresh the vendored Data Docs assets from the npm registry: `npm pack` each pinned package in
manifest.json and copy the listed files, its package.json and its licence file when it has one. Run it after a GX upgrade that
changes a CDN URL (tests/quality/test_gate.py fails then), or to bump a pin; commit the result."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LICENCE_NAMES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENSE-MIT", "license")


def fetch(spec: str, files: list[str], workdir: Path) -> None:
    """Unpack one package tarball and copy `files`, package.json and the licence under HERE/<spec>/."""
    out = subprocess.run(["npm", "pack", spec, "--silent"], cwd=workdir, check=True, capture_output=True, text=True)
    with tarfile.open(workdir / out.stdout.strip().splitlines()[-1]) as tar:
        tar.extractall(workdir / spec, filter="data")
    package = workdir / spec / "package"
    target = HERE / spec
    shutil.rmtree(target, ignore_errors=True)
    licences = [name for name in LICENCE_NAMES if (package / name).is_file()]
    if not licences and "license" not in json.loads((package / "package.json").read_text(encoding="utf-8")):
        sys.exit(f"{spec}: the package states no licence")
    for name in [*files, "package.json", *licences]:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(package / name, target / name)


def main() -> None:
    manifest = json.loads((HERE / "manifest.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        for spec, files in manifest["packages"].items():
            fetch(spec, list(files), Path(tmp))
            print(f"vendored {spec}")


if __name__ == "__main__":
    main()
