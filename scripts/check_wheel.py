"""Build the release wheel as Databricks needs it and prove it installs and imports in a fresh environment.

The wheel must be abi3 (one wheel for every CPython >= 3.10) and manylinux2014 (glibc 2.17), so it installs on
Databricks runtimes with an older glibc than this machine's. zig (from the ``ziglang`` package) links against
that old glibc.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_TAG = "cp310-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64"


def main() -> int:
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    subprocess.run(
        ["maturin", "build", "--release", "--locked", "--zig", "--compatibility", "manylinux2014", "--out", str(dist)],
        cwd=ROOT,
        check=True,
    )
    wheels = sorted(dist.glob("carelake-*.whl"))
    if len(wheels) != 1:
        print(f"expected one wheel in {dist}, found {[w.name for w in wheels]}", file=sys.stderr)
        return 1
    wheel = wheels[0]
    # name-version-python-abi-platform.whl; a compressed platform tag is a set (PEP 425), whatever its order.
    stem = wheel.name[: -len(".whl")]
    python_tag, abi_tag, platform_tag = stem.split("-")[-3:]
    want_python, want_abi, want_platform = EXPECTED_TAG.split("-")
    if (python_tag, abi_tag) != (want_python, want_abi) or set(platform_tag.split(".")) != set(want_platform.split(".")):
        print(f"wheel {wheel.name} does not carry the tags {EXPECTED_TAG}", file=sys.stderr)
        return 1
    # Name it in the canonical order (auditwheel's): manylinux_2_17 first, then its legacy alias.
    canonical = wheel.with_name(f"{'-'.join(stem.split('-')[:-3])}-{EXPECTED_TAG}.whl")
    if canonical != wheel:
        wheel = wheel.rename(canonical)
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True)
        out = subprocess.run(
            [str(python), "-c", "import carelake, carelake.exceptions; print(carelake.__version__)"],
            check=True,
            capture_output=True,
            text=True,
        )
        version = out.stdout.strip()
        subprocess.run([str(venv / "bin" / "carelake"), "--version"], check=True)
    print(f"wheel ok: {wheel.name} ({wheel.stat().st_size / 1e6:.1f} MB), imports as carelake {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
