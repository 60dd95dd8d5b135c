"""A `generate` serving signature for causal LMs: the XLA-compiled loop inside the SavedModel."""

import json
import os
import subprocess
import sys

import numpy as np

import tfmodels
from tfmodels.export import export_saved_model

LOAD_AND_GENERATE = r"""
import json, sys
import numpy as np, tensorflow as tf
assert "tfmodels" not in sys.modules
loaded = tf.saved_model.load(sys.argv[1])
inputs = {k: tf.constant(np.asarray(v, "int32")) for k, v in json.loads(sys.argv[2]).items()}
print(json.dumps(loaded.signatures["generate"](**inputs)["sequences"].numpy().tolist()))
"""


def test_generate_signature_in_fresh_process(tmp_path):
    model = tfmodels.GPT2LMHeadModel(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                     eos_token_id=98, pad_token_id=0)
    model.build_from_dummy_inputs()
    generation = {"batch_size": 2, "prompt_length": 8, "max_new_tokens": 5}
    directory = export_saved_model(model, tmp_path / "gpt2", generation=generation)
    rng = np.random.RandomState(0)
    inputs = {"input_ids": rng.randint(1, 98, (2, 8)).astype("int32"), "attention_mask": np.ones((2, 8), "int32")}
    inputs["attention_mask"][1, :3] = 0  # left padding
    inputs["input_ids"][1, :3] = 0
    expected = model.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], max_new_tokens=5)
    run = subprocess.run([sys.executable, "-c", LOAD_AND_GENERATE, str(directory),
                          json.dumps({k: v.tolist() for k, v in inputs.items()})],
                         capture_output=True, text=True, timeout=180, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert run.returncode == 0, run.stderr[-3000:]
    np.testing.assert_array_equal(json.loads(run.stdout.strip().splitlines()[-1]), expected.numpy())


def test_generate_signature_names_its_limits():
    import pytest
    import tensorflow as tf

    from tfmodels.export.signatures import make_generation_function

    model = tfmodels.GPT2LMHeadModel(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64)
    generate = make_generation_function(model, batch_size=2, prompt_length=8, max_new_tokens=3)
    limit = r"1 <= batch <= 2 and 1 <= prompt_len <= 8"
    for shape in ((3, 4), (1, 9), (1, 0)):
        with pytest.raises(tf.errors.InvalidArgumentError, match=limit):
            generate(tf.ones(shape, tf.int32), tf.ones(shape, tf.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match=limit):
        generate(tf.ones((1, 4), tf.int32), tf.ones((1, 5), tf.int32))
