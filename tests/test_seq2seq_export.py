"""SavedModels of encoder-decoder LMs (T5, BART) with a `generate` signature, served in a fresh process.

T5 goes through `tfmodels export --task seq2seq-lm --generation` (greedy), BART (slow) through
`export_saved_model(..., generation=...)` (beam search, two sequences per source). A subprocess
without tfmodels loads the SavedModel: `generate` must return the token ids of `model.generate()`,
for the compiled shape and for a smaller batch and source (padded inside the signature), and
BART's `serving_default` must take the decoder inputs and return the model's logits.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tfmodels
from tests.helpers import hf_checkpoint
from tests.test_bart_parity import bart_config
from tests.test_t5_parity import VOCAB
from tfmodels.cli import main

LOAD_AND_SERVE = r"""
import json, sys
import numpy as np, tensorflow as tf
assert "tfmodels" not in sys.modules
requests = json.load(open(sys.argv[1]))
results = {}
for key, request in requests.items():
    signature = tf.saved_model.load(request["dir"]).signatures[request["signature"]]
    outputs = signature(**{k: tf.constant(np.asarray(v, "int32")) for k, v in request["inputs"].items()})
    results[key] = {k: v.numpy().tolist() for k, v in outputs.items()}
print(json.dumps({"tfmodels_imported": "tfmodels" in sys.modules}))
json.dump(results, open(sys.argv[2], "w"))
"""

BATCH, SOURCE, NEW_TOKENS = 2, 7, 6


def _source(batch, length, vocab, seed, pad_id):
    rng = np.random.RandomState(seed)
    ids = rng.randint(3, vocab, (batch, length)).astype("int32")
    mask = np.ones((batch, length), "int32")
    if batch > 1:
        ids[-1, -2:], mask[-1, -2:] = pad_id, 0  # a padded source
    return {"input_ids": ids, "attention_mask": mask}


def _serve_in_fresh_process(requests, tmp_path):
    (tmp_path / "requests.json").write_text(json.dumps(
        {k: {**r, "inputs": {n: v.tolist() for n, v in r["inputs"].items()}} for k, r in requests.items()}))
    run = subprocess.run([sys.executable, "-c", LOAD_AND_SERVE, str(tmp_path / "requests.json"),
                          str(tmp_path / "results.json")], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"tfmodels_imported": False}
    return json.loads((tmp_path / "results.json").read_text())


def _t5_checkpoint(directory):
    import transformers

    config = transformers.T5Config(vocab_size=VOCAB, d_model=20, d_kv=7, d_ff=23, num_layers=1, num_decoder_layers=2,
                                   num_heads=3, relative_attention_num_buckets=8, relative_attention_max_distance=12,
                                   feed_forward_proj="gated-gelu", tie_word_embeddings=False, decoder_start_token_id=0)
    return hf_checkpoint("T5ForConditionalGeneration", config, directory)


def test_cli_exports_a_t5_generate_signature_served_in_a_fresh_process(tmp_path):
    source = _t5_checkpoint(tmp_path / "t5")
    assert main(["export", source, str(tmp_path / "sm"), "--task", "seq2seq-lm", "--generation",
                 "--max-new-tokens", str(NEW_TOKENS), "--batch-size", str(BATCH),
                 "--prompt-length", str(SOURCE)]) == 0
    model = tfmodels.T5ForConditionalGeneration.from_pretrained(source)
    full, small = _source(BATCH, SOURCE, VOCAB, 0, 0), _source(1, SOURCE - 2, VOCAB, 1, 0)
    served = _serve_in_fresh_process({key: dict(dir=str(tmp_path / "sm"), signature="generate", inputs=inputs)
                                      for key, inputs in (("full", full), ("small", small))}, tmp_path)
    expected = model.generate(full["input_ids"], attention_mask=full["attention_mask"], max_new_tokens=NEW_TOKENS)
    assert len(np.unique(expected[:, 1:])) > 1, "a model that repeats one token proves little"
    np.testing.assert_array_equal(served["full"]["sequences"], expected)
    # The smaller request is padded inside the signature (the source on the right, the batch with copies of its
    # row) to the compiled shape; padded the same way here it reuses the compiled loop (the unpadded request
    # is compared in the slow BART test).
    padded = {k: np.pad(np.repeat(v, BATCH, axis=0), ((0, 0), (0, 2))) for k, v in small.items()}
    expected = model.generate(padded["input_ids"], attention_mask=padded["attention_mask"], max_new_tokens=NEW_TOKENS)
    np.testing.assert_array_equal(served["small"]["sequences"], expected[:1])


@pytest.mark.slow  # ~80 s on a loaded 2-core machine: two XLA beam-search compiles in-process, one more when served
def test_bart_beam_generate_and_serving_default_in_a_fresh_process(tmp_path):
    import tensorflow as tf

    bart = tfmodels.BartForConditionalGeneration.from_pretrained(hf_checkpoint(
        "BartForConditionalGeneration", bart_config(init_std=1.0), tmp_path / "bart"))
    beams = dict(num_beams=2, num_return_sequences=2)
    tfmodels.export_saved_model(bart, tmp_path / "sm", generation=dict(
        batch_size=BATCH, prompt_length=SOURCE, max_new_tokens=NEW_TOKENS, **beams))
    vocab, pad = bart.backbone.config["vocab_size"], bart.backbone.config["pad_token_id"]
    full, small = _source(BATCH, SOURCE, vocab, 2, pad), _source(1, SOURCE - 3, vocab, 3, pad)
    decoder = {"decoder_input_ids": np.random.RandomState(3).randint(3, vocab, (BATCH, 5)).astype("int32"),
               "decoder_attention_mask": np.array([[1] * 5, [1] * 4 + [0]], "int32")}
    requests = {key: dict(dir=str(tmp_path / "sm"), signature="generate", inputs=inputs)
                for key, inputs in (("full", full), ("small", small))}
    requests["logits"] = dict(dir=str(tmp_path / "sm"), signature="serving_default", inputs={**full, **decoder})
    served = _serve_in_fresh_process(requests, tmp_path)
    for key, inputs in (("full", full), ("small", small)):
        expected = bart.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                 max_new_tokens=NEW_TOKENS, **beams).numpy()
        assert expected.shape[0] == 2 * len(inputs["input_ids"])
        assert len(np.unique(expected[:, 1:])) > 1, f"{key}: a model that repeats one token proves little"
        np.testing.assert_array_equal(served[key]["sequences"], expected, err_msg=key)
    # The served graph against the same graph traced here (eager differs by ~1e-4 on these |logits| ~ 14).
    graph = tf.function(lambda x: bart(x, training=False))({**full, **decoder})["logits"].numpy()
    assert np.abs(np.asarray(served["logits"]["logits"]) - graph).max() <= 1e-5


def test_bart_serving_default_takes_the_decoder_inputs():
    from tfmodels.export.saved_model import serving_input_specs

    config = bart_config().to_dict()
    assert list(serving_input_specs(tfmodels.BartForConditionalGeneration.from_config(config))) == [
        "input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask"]
    assert list(serving_input_specs(tfmodels.BartForCausalLM.from_config(config))) == ["input_ids", "attention_mask"]


def test_seq2seq_generate_signature_names_its_limits():
    import tensorflow as tf

    from tfmodels.export.signatures import make_generation_function

    model = tfmodels.T5ForConditionalGeneration(vocab_size=VOCAB, d_model=20, d_kv=7, d_ff=23, num_layers=1,
                                                num_heads=3, relative_attention_num_buckets=8)
    generate = make_generation_function(model, batch_size=BATCH, prompt_length=SOURCE, max_new_tokens=2)
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"1 <= batch <= {BATCH} and 1 <= prompt_len <= {SOURCE}"):
        generate(tf.ones((1, SOURCE + 1), tf.int32), tf.ones((1, SOURCE + 1), tf.int32))
