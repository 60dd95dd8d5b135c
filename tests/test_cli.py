"""The `tfmodels` command line."""

import subprocess
import sys

import numpy as np
import pytest

import tfmodels
from tests.helpers import hf_checkpoint, random_inputs
from tests.test_bert_parity import tiny_bert_config
from tfmodels.cli import main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return hf_checkpoint("BertForSequenceClassification", tiny_bert_config(), tmp_path_factory.mktemp("ckpt"))


def test_help_lists_commands():
    result = subprocess.run([sys.executable, "-m", "tfmodels.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("convert", "export", "demo"):
        assert command in result.stdout


def test_convert_to_keras_weights(checkpoint, tmp_path, capsys):
    assert main(["convert", checkpoint, str(tmp_path / "out")]) == 0
    assert "BertForSequenceClassification" in capsys.readouterr().out
    converted = tfmodels.AutoModelForSequenceClassification.from_pretrained(tmp_path / "out")
    original = tfmodels.BertForSequenceClassification.from_pretrained(checkpoint)
    inputs = random_inputs(type_vocab_size=3)
    np.testing.assert_array_equal(converted(inputs)["logits"], original(inputs)["logits"])


def test_convert_to_safetensors(checkpoint, tmp_path):
    assert main(["convert", checkpoint, str(tmp_path / "out"), "--format", "safetensors", "--task", "base"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["config.json", "model.safetensors"]


def test_export(checkpoint, tmp_path):
    assert main(["export", checkpoint, str(tmp_path / "sm")]) == 0
    assert (tmp_path / "sm" / "saved_model.pb").exists()


def test_errors_are_one_line_messages(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "missing" / "dir"), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tfmodels convert: error:") and "does not exist" in err
    assert "Traceback" not in err
