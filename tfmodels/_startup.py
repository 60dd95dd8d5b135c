"""Quiet TensorFlow start-up for the `tfmodels` command (imported before TensorFlow).

Importing TensorFlow prints native log lines to the terminal: absl's "All log
messages before absl::InitializeLog() is called are written to STDERR", the
oneDNN notice, "Could not find cuda drivers", `cuInit` errors. A CLI user
should see only tfmodels' own lines, so the command

- sets `TF_CPP_MIN_LOG_LEVEL=3` (unless the user set it) before TensorFlow is
  imported, which silences TensorFlow's C++ logging after start-up;
- redirects file descriptor 2 while TensorFlow is imported, because absl
  prints the first lines before that setting is read; what was written is
  shown again if the import fails.

`-v`/`--verbose` keeps everything. Library imports (`import tfmodels`) are not
affected: only processes running the CLI (`tfmodels ...` or
`python -m tfmodels.cli ...`) are quieted.
"""

import contextlib
import os
import sys
import tempfile

QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}


def is_cli_process(argv=None):
    """True when this interpreter runs the `tfmodels` command (console script or `-m tfmodels.cli`)."""
    argv = list(argv if argv is not None else getattr(sys, "orig_argv", sys.argv))
    if "-m" in argv[:-1]:
        return argv[argv.index("-m") + 1] in ("tfmodels", "tfmodels.cli")
    return len(argv) > 1 and os.path.basename(argv[1]) == "tfmodels"


def wants_verbose(argv=None):
    """True when the command line asks for the native logs (`-v` / `--verbose`)."""
    return any(arg in ("-v", "--verbose") for arg in (argv if argv is not None else sys.argv[1:]))


@contextlib.contextmanager
def silenced_stderr_fd():
    """Sends file descriptor 2 to a temporary file for the block; replays it if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            os.write(2, sink.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def quiet_tensorflow_for_cli():
    """Imports TensorFlow quietly when this process is the CLI without `-v`; otherwise does nothing."""
    if "tensorflow" in sys.modules or not is_cli_process() or wants_verbose():
        return
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    with silenced_stderr_fd():
        import tensorflow  # noqa: F401
