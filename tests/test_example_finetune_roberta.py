"""examples/finetune_roberta.py runs end to end (train, evaluate, export, reload)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_finetune_roberta_example(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "finetune_roberta.py"), "--epochs", "1", "--output", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SavedModel vs Keras max abs diff" in result.stdout
    assert (tmp_path / "saved_model" / "saved_model.pb").is_file()
