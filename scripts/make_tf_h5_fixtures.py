"""Builds the legacy Hugging Face TF checkpoint fixtures under tests/fixtures/tf_h5/.

`transformers` 5 has no TensorFlow models, so the `tf_model.h5` files and
their reference outputs come from 4.46.3, the last release before the TF
classes were removed, with TensorFlow 2.15 and tf-keras in a throwaway
virtual environment (no system packages: the system's Keras 3 must stay
out):

    python scripts/make_tf_h5_fixtures.py        # creates /tmp/h5-venv if needed

For each class it builds the tiny random `TF<Class>`, adds random noise to
every weight (so zero-initialised biases and unit norms are tested too),
saves it with `save_pretrained` (`config.json` + `tf_model.h5`; the classes
in `SHARDED` with a small `max_shard_size`, giving `tf_model-0000k-of-0000n.h5`
shards and `tf_model.h5.index.json`), and writes `<class>/reference.npz`:
the inputs (`input.*`, right-padded; seq2seq decoders right-padded too) and
every output the TF model returns on them with hidden states and attentions
(tuples as `name.{i}`; the cache, `past_key_values` / `mems`, is left out).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from legacy_venv import run_builder  # noqa: E402

TRANSFORMERS_VERSION = "4.46.3"
PACKAGES = ("tensorflow-cpu==2.15.*", "tf-keras==2.15.*", "numpy<2")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "tf_h5"
VOCAB = 40

# Odd sizes (intermediate 29, 3 labels), narrow (24) and short tables: an h5 file stores each variable in its
# own dataset under nested groups, so even tiny models take ~100 KB.
BERT = dict(vocab_size=VOCAB, hidden_size=24, num_hidden_layers=2, num_attention_heads=3, intermediate_size=29,
            max_position_embeddings=16, type_vocab_size=3, num_labels=3)
MODELS = {
    # class name (without TF): (config class, config fields, input kind)
    "BertModel": ("BertConfig", BERT, "encoder"),
    "BertForSequenceClassification": ("BertConfig", BERT, "encoder"),
    "BertForMaskedLM": ("BertConfig", BERT, "encoder"),
    "GPT2LMHeadModel": ("GPT2Config", dict(vocab_size=VOCAB, n_embd=24, n_layer=2, n_head=3, n_positions=16,
                                           n_inner=29), "decoder"),
    "RobertaForMaskedLM": ("RobertaConfig", {**BERT, "type_vocab_size": 1, "max_position_embeddings": 18,
                                             "pad_token_id": 1}, "roberta"),
    "T5ForConditionalGeneration": ("T5Config", dict(vocab_size=VOCAB, d_model=24, d_kv=6, d_ff=29, num_layers=2,
                                                    num_decoder_layers=3, num_heads=4,
                                                    relative_attention_num_buckets=8,
                                                    relative_attention_max_distance=16,
                                                    feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                                                    pad_token_id=0, eos_token_id=1, decoder_start_token_id=0),
                                   "seq2seq"),
    "BartForConditionalGeneration": ("BartConfig", dict(vocab_size=VOCAB, max_position_embeddings=16, d_model=24,
                                                        encoder_layers=2, decoder_layers=3, encoder_attention_heads=3,
                                                        decoder_attention_heads=4, encoder_ffn_dim=29,
                                                        decoder_ffn_dim=23, pad_token_id=1, eos_token_id=2,
                                                        bos_token_id=0, decoder_start_token_id=2,
                                                        forced_eos_token_id=None), "seq2seq"),
    "DistilBertForMaskedLM": ("DistilBertConfig", dict(vocab_size=VOCAB, dim=24, n_layers=2, n_heads=3,
                                                       hidden_dim=29, max_position_embeddings=16), "plain"),
    "AlbertModel": ("AlbertConfig", dict(vocab_size=VOCAB, embedding_size=16, hidden_size=24, num_hidden_layers=2,
                                         num_attention_heads=3, intermediate_size=29, max_position_embeddings=16,
                                         type_vocab_size=3), "encoder"),
    "ElectraForSequenceClassification": ("ElectraConfig", dict(vocab_size=VOCAB, embedding_size=16, hidden_size=24,
                                                               num_hidden_layers=2, num_attention_heads=3,
                                                               intermediate_size=29, max_position_embeddings=16,
                                                               type_vocab_size=3, num_labels=3), "encoder"),
}
SHARDED = {"BartForConditionalGeneration": "40KB"}
CACHE_OUTPUTS = ("past_key_values", "mems")


def model_inputs(kind, seed=0):
    """Right-padded `(3, 9)` inputs (row 1 keeps 5 tokens, row 2 keeps 2); seq2seq adds `(3, 7)` decoder
    inputs with right padding only (a left-padded decoder row would be fully masked at its first query)."""
    import numpy as np

    from tests.helpers import random_inputs

    inputs = random_inputs(vocab_size=VOCAB, type_vocab_size=3 if kind == "encoder" else 0, seed=seed)
    inputs["input_ids"] = np.maximum(inputs["input_ids"], 3)  # no pad / bos / eos ids inside the text
    if kind == "seq2seq":
        rng = np.random.RandomState(seed + 1)
        inputs["decoder_input_ids"] = rng.randint(3, VOCAB, (3, 7)).astype("int64")
        mask = np.ones((3, 7), dtype="int64")
        mask[1, 5:] = 0
        mask[2, 3:] = 0
        inputs["decoder_attention_mask"] = mask
    return inputs


def build_fixtures():
    import json

    import numpy as np
    import tensorflow as tf
    import transformers

    for index, (class_name, (config_name, fields, kind)) in enumerate(MODELS.items()):
        directory = OUT / class_name
        tf.keras.utils.set_random_seed(index)
        config = getattr(transformers, config_name)(**fields)
        model = getattr(transformers, f"TF{class_name}")(config)
        inputs = model_inputs(kind)
        tf_inputs = {k: tf.constant(v, dtype=tf.int32) for k, v in inputs.items()}
        model(tf_inputs, training=False)  # builds every variable
        rng = np.random.RandomState(index)
        for weight in model.weights:
            weight.assign(weight.numpy() + rng.normal(0.0, 0.05, weight.shape).astype(weight.dtype.as_numpy_dtype))
        outputs = model(tf_inputs, training=False, output_hidden_states=True, output_attentions=True)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("tf_model*"):
            stale.unlink()
        model.save_pretrained(str(directory), max_shard_size=SHARDED.get(class_name, "10GB"))
        arrays = {f"input.{k}": v for k, v in inputs.items()}
        for name, value in outputs.items():
            if name in CACHE_OUTPUTS or value is None:
                continue
            if isinstance(value, (tuple, list)):
                arrays.update({f"{name}.{i}": np.asarray(t) for i, t in enumerate(value)})
            else:
                arrays[name] = np.asarray(value)
        np.savez_compressed(directory / "reference.npz", **arrays)
        names = sorted(p.name for p in directory.iterdir())
        print(f"wrote {directory}: {names}; architectures={json.load(open(directory / 'config.json'))['architectures']}")


def main():
    run_builder(__file__, TRANSFORMERS_VERSION, build_fixtures, __doc__.splitlines()[0], "/tmp/h5-venv",
                packages=PACKAGES, system_site_packages=False)


if __name__ == "__main__":
    main()
