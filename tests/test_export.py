"""SavedModel export: reloaded in a fresh process that never imports tfmodels."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tfmodels
from tests.test_bert_parity import tiny_bert_config

SHAPES = [(1, 3), (2, 9), (5, 17)]


def _inputs(batch, seq, rank=2, choices=2):
    rng = np.random.RandomState(batch * 100 + seq)
    shape = (batch, choices, seq) if rank == 3 else (batch, seq)
    mask = np.ones(shape, dtype="int32")
    mask[..., seq // 2 + 1:] = 0
    mask[0, ...] = 1
    return {
        "input_ids": rng.randint(1, 99, shape).astype("int32"),
        "attention_mask": mask,
        "token_type_ids": rng.randint(0, 3, shape).astype("int32"),
    }


def _run_in_fresh_process(saved_model_dir, inputs_path, outputs_path):
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        import tensorflow as tf
        serve = tf.saved_model.load({str(saved_model_dir)!r}).signatures["serving_default"]
        batches = np.load({str(inputs_path)!r}, allow_pickle=True).item()
        results = {{}}
        for key, feed in batches.items():
            out = serve(**{{k: tf.constant(v) for k, v in feed.items()}})
            results[key] = {{k: v.numpy() for k, v in out.items()}}
        np.save({str(outputs_path)!r}, results, allow_pickle=True)
        print(json.dumps({{"tfmodels_imported": "tfmodels" in sys.modules}}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"tfmodels_imported": False}
    return np.load(outputs_path, allow_pickle=True).item()


@pytest.mark.parametrize("class_name", ["BertModel", "BertForSequenceClassification", "BertForMultipleChoice"])
def test_saved_model_matches_keras_in_fresh_process(class_name, tmp_path):
    config = tiny_bert_config().to_dict()
    model = getattr(tfmodels, class_name).from_config(config)
    rank = 3 if "MultipleChoice" in class_name else 2
    batches = {f"{b}x{s}": _inputs(b, s, rank) for b, s in SHAPES}
    saved = tfmodels.export_saved_model(model, tmp_path / "saved_model")
    np.save(tmp_path / "inputs.npy", batches, allow_pickle=True)
    results = _run_in_fresh_process(saved, tmp_path / "inputs.npy", tmp_path / "outputs.npy")
    for key, feed in batches.items():
        expected = model(feed, training=False)
        assert set(results[key]) == set(model.serving_outputs)
        for name in model.serving_outputs:
            diff = np.abs(results[key][name] - expected[name].numpy()).max()
            assert diff <= 1e-5, (key, name, diff)


def test_export_refuses_to_overwrite(tmp_path):
    model = tfmodels.BertModel.from_config(tiny_bert_config().to_dict())
    target = tmp_path / "saved_model"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        tfmodels.export_saved_model(model, target)
    assert (target / "keep.txt").read_text() == "mine"
    tfmodels.export_saved_model(model, target, overwrite=True)
    assert (target / "saved_model.pb").exists() and not (target / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved_model"]  # no temp dirs left
