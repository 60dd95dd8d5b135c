"""The `tfmodels` command line."""

import os
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


def _cli(*args, verbose=False):
    """Runs `python -m tfmodels.cli` as a user would: no TF_CPP_MIN_LOG_LEVEL set by the caller."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-m", "tfmodels.cli", *(["-v"] if verbose else []), *args],
                          capture_output=True, text=True, env=env, timeout=300)


NATIVE_NOISE = ("absl::InitializeLog", "oneDNN", "cuInit", "cuda", "cpu_feature_guard", "I0000", "E0000", "W0000")


def test_version():
    result = _cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"tfmodels {tfmodels.__version__}"


def test_cli_prints_no_tensorflow_start_up_noise(checkpoint, tmp_path):
    result = _cli("convert", checkpoint, str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert not [word for word in NATIVE_NOISE if word in result.stderr], result.stderr
    assert "Wrote" in result.stdout


def test_quiet_start_up_applies_to_the_cli_only():
    from tfmodels._startup import is_cli_process, wants_verbose

    assert is_cli_process(["python", "-m", "tfmodels.cli", "demo"])
    assert is_cli_process(["/usr/bin/python3", "/usr/local/bin/tfmodels", "convert", "a", "b"])
    assert not is_cli_process(["python", "-m", "pytest", "tests"])
    assert not is_cli_process(["python", "train.py"])
    assert wants_verbose(["-v", "demo"]) and not wants_verbose(["demo"])


def test_export_help_lists_the_python_api_options():
    result = _cli("export", "--help")
    for option in ("--tokenizer", "--max-length", "--generation", "--max-new-tokens", "--batch-size",
                   "--prompt-length", "--generation-config", "--overwrite", "--image-processor"):
        assert option in result.stdout


@pytest.mark.slow
def test_export_with_in_graph_image_processor_from_the_cli(tmp_path):
    import tensorflow as tf
    import transformers

    from tests.tiny_models import TINY_CONFIGS
    from tfmodels.processors import ImageProcessor

    source = hf_checkpoint("ViTModel", transformers.ViTConfig(**TINY_CONFIGS["vit"]), tmp_path / "vit")
    transformers.ViTImageProcessorPil(size={"height": 30, "width": 30}).save_pretrained(source)
    assert main(["export", source, str(tmp_path / "sm"), "--image-processor", "auto"]) == 0
    signatures = tf.saved_model.load(str(tmp_path / "sm")).signatures
    images = np.random.RandomState(0).randint(0, 256, (2, 41, 57, 3)).astype("uint8")
    served = signatures["serve_images"](images=tf.constant(images))["last_hidden_state"].numpy()
    pixel_values = ImageProcessor.from_pretrained(source)(list(images))["pixel_values"]
    expected = tfmodels.ViTModel.from_pretrained(source)({"pixel_values": pixel_values})["last_hidden_state"]
    np.testing.assert_allclose(served, expected.numpy(), atol=1e-5, rtol=0)


def test_export_generation_signature_from_the_cli(tmp_path):
    import tensorflow as tf
    import transformers

    config = transformers.GPT2Config(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                     eos_token_id=98, pad_token_id=0)
    source = hf_checkpoint("GPT2LMHeadModel", config, tmp_path / "gpt2")
    assert main(["export", source, str(tmp_path / "sm"), "--generation", "--max-new-tokens", "4",
                 "--batch-size", "3", "--prompt-length", "8"]) == 0
    generate = tf.saved_model.load(str(tmp_path / "sm")).signatures["generate"]
    model = tfmodels.GPT2LMHeadModel.from_pretrained(source)
    ids = np.array([[5, 6, 7, 8, 9]], "int32")  # batch 1 < 3, length 5 < 8: padded inside the signature
    got = generate(input_ids=tf.constant(ids), attention_mask=tf.ones_like(ids))["sequences"]
    np.testing.assert_array_equal(got, model.generate(ids, max_new_tokens=4))


def test_demo_fresh_process_keeps_tensorflow_noise_off_the_terminal(tmp_path, capfd):
    from tfmodels import demo

    classifier = tfmodels.BertForSequenceClassification(vocab_size=30522, hidden_size=32, num_hidden_layers=1,
                                                        num_attention_heads=2, intermediate_size=37, num_labels=2)
    saved_model = tfmodels.export_saved_model(classifier, tmp_path / "sm")
    capfd.readouterr()
    demo._query_saved_model(saved_model, demo.checkpoint_dir(), ["A fine film.", "Dull."])
    out, err = capfd.readouterr()
    assert "fresh process (tfmodels imported: False)" in out and "positive=" in out
    assert not [word for word in NATIVE_NOISE if word in err], err


def test_export_with_in_graph_tokenizer_from_the_cli(tmp_path):
    import shutil

    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the SavedModel's tokenizer ops)

    from tfmodels import demo

    source = hf_checkpoint("BertForSequenceClassification", tiny_bert_config(vocab_size=30522), tmp_path / "ckpt")
    shutil.copy(demo.checkpoint_dir() / "tokenizer.json", tmp_path / "ckpt" / "tokenizer.json")
    assert main(["export", source, str(tmp_path / "sm"), "--tokenizer", "auto", "--max-length", "16"]) == 0
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    assert {"serve_text", "tokenize", "classify_text"} <= set(loaded.signatures)
    ids = loaded.signatures["tokenize"](text=tf.constant(["A fine film."]))["input_ids"]
    assert ids.shape == (1, 16)
