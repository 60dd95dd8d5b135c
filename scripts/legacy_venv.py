"""Runs a fixture builder under an older `transformers` release, in a throwaway venv.

Reference outputs for what today's `transformers` no longer ships (or ships
broken) come from the last release that had it working. The venv reuses the
system's CPU `torch` and NumPy (`--system-site-packages`) and adds only the
pinned `transformers`:

    run_builder(__file__, "4.46.3", default_venv="/tmp/transformers-4.46.3-venv")

makes the calling script re-run itself inside that venv with `--inside`, where
it builds its fixtures. Builders that need other pinned packages (the
TensorFlow 2.15 / tf-keras stack of the legacy TF models) pass `packages` and
`system_site_packages=False`, so the system's Keras 3 stays out of the venv.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ensure_venv(venv, transformers_version, packages=(), system_site_packages=True):
    """Creates `venv` with `transformers==transformers_version` (and `packages`, pip requirement
    strings) if it is not there yet; returns its python."""
    python = Path(venv) / "bin" / "python"
    if not python.exists():
        flags = ["--system-site-packages"] if system_site_packages else []
        subprocess.check_call([sys.executable, "-m", "venv", *flags, str(venv)])
        subprocess.check_call([str(python), "-m", "pip", "install", "-q", f"transformers=={transformers_version}",
                               *packages])
    return python


def run_builder(script, transformers_version, build, description, default_venv, packages=(),
                system_site_packages=True):
    """Command-line entry of a fixture script: runs `build()` inside the legacy venv
    (created by `ensure_venv` with `packages` and `system_site_packages`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--venv", default=default_venv, help=f"virtual environment to use (default: {default_venv})")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args, builder_args = parser.parse_known_args()  # the rest is the builder's (it reads them from sys.argv)
    if args.inside:
        import transformers

        if transformers.__version__ != transformers_version:
            raise SystemExit(f"expected transformers {transformers_version}, found {transformers.__version__}")
        sys.path.insert(0, str(ROOT))
        build()
        return
    python = ensure_venv(args.venv, transformers_version, packages, system_site_packages)
    env = {**os.environ, "PYTHONNOUSERSITE": "1"}
    subprocess.check_call([str(python), str(script), "--inside", "--venv", args.venv, *builder_args], env=env)
