"""BigBird (block-sparse and full attention) against `transformers` PyTorch on tiny random configs."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
import transformers

import tfmodels
from tests.helpers import (
    assert_parity,
    assert_save_round_trip,
    hf_checkpoint,
    random_inputs,
)
from tfmodels.layers.attention.block_sparse_plan import random_block_plan

CLASSES = [
    "BigBirdModel",
    "BigBirdForMaskedLM",
    "BigBirdForSequenceClassification",
    "BigBirdForTokenClassification",
    "BigBirdForQuestionAnswering",
    "BigBirdForMultipleChoice",
    "BigBirdForPreTraining",
    "BigBirdForCausalLM",
]
BLOCK_SIZE, NUM_RANDOM_BLOCKS = 4, 2  # full attention up to (5 + 2 * 2) * 4 = 36 tokens
SEQ_LEN = 66  # padded to 68 = 17 blocks inside the models


def tiny_config(class_name="BigBirdModel", **overrides):
    fields = dict(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=128, type_vocab_size=2, block_size=BLOCK_SIZE, num_random_blocks=NUM_RANDOM_BLOCKS,
        num_labels=2 if class_name.endswith("QuestionAnswering") else 3, is_decoder=class_name.endswith("CausalLM"),
    )
    fields.update(overrides)
    return transformers.BigBirdConfig(**fields)


def inputs_for(class_name, seq_len=SEQ_LEN):
    if class_name.endswith("MultipleChoice"):
        flat = random_inputs(batch_size=4, seq_len=seq_len, pad_lengths=(50, 13, 60), type_vocab_size=2)
        return {k: v.reshape(2, 2, -1) for k, v in flat.items()}
    return random_inputs(seq_len=seq_len, pad_lengths=(50, 13), type_vocab_size=2)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """One block-sparse checkpoint per class (full attention reads the same weights)."""
    cache = {}

    def get(class_name, **overrides):
        key = (class_name, tuple(sorted(overrides.items())))
        if key not in cache:
            directory = tmp_path_factory.mktemp(class_name)
            cache[key] = hf_checkpoint(class_name, tiny_config(class_name, **overrides), directory)
        return cache[key]

    return get


def with_attention_type(path, attention_type, directory):
    """A copy of checkpoint `path` whose config says `attention_type`."""
    shutil.copytree(path, directory, dirs_exist_ok=True)
    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump({**config, "attention_type": attention_type}, f)
    return str(directory)


# Full attention of the head classes reuses the backbone code checked by BigBirdModel/BigBirdForCausalLM
# in the default suite; the other heads' full-attention runs are opt-in (`-m slow`).
FULL_IN_DEFAULT = ("BigBirdModel", "BigBirdForCausalLM", "BigBirdForQuestionAnswering")
CASES = [(c, "block_sparse") for c in CLASSES] + [
    pytest.param(c, "original_full", marks=() if c in FULL_IN_DEFAULT else pytest.mark.slow) for c in CLASSES
]


@pytest.mark.parametrize("class_name,attention_type", CASES)
def test_parity(class_name, attention_type, checkpoints, tmp_path):
    path = checkpoints(class_name)
    if attention_type == "original_full":
        path = with_attention_type(path, attention_type, tmp_path)
    diffs = assert_parity(class_name, path, inputs_for(class_name))
    print(class_name, attention_type, diffs)


def test_use_bias_rescale_and_labels_parity(checkpoints):
    """No q/k/v biases, `rescale_embeddings`, given `position_ids`, and the loss, block-sparse."""
    path = checkpoints("BigBirdForMaskedLM", use_bias=False, rescale_embeddings=True)
    inputs = inputs_for("BigBirdForMaskedLM")
    inputs["position_ids"] = np.tile(np.arange(3, 3 + SEQ_LEN), (3, 1))
    labels = np.random.RandomState(3).randint(0, 99, inputs["input_ids"].shape)
    labels[inputs["attention_mask"] == 0] = -100
    diffs = assert_parity("BigBirdForMaskedLM", path, {**inputs, "labels": labels})
    assert "loss" in diffs
    print(diffs)


def test_question_lengths_parity(checkpoints):
    """Question tokens masked from the span logits: given `question_lengths`, or up to the first [SEP]."""
    path = checkpoints("BigBirdForQuestionAnswering")
    inputs = inputs_for("BigBirdForQuestionAnswering")
    del inputs["token_type_ids"]  # derived from the question lengths, as in the reference
    sep = tiny_config().sep_token_id
    inputs["input_ids"][inputs["input_ids"] == sep] = 5
    inputs["input_ids"][0, 7] = inputs["input_ids"][1, 20] = sep  # row 2 has none: question length 1
    print(assert_parity("BigBirdForQuestionAnswering", path, inputs))


@pytest.mark.slow
def test_explicit_question_lengths_parity(checkpoints):
    inputs = inputs_for("BigBirdForQuestionAnswering")
    del inputs["token_type_ids"]
    explicit = {**inputs, "question_lengths": np.array([[3], [11], [40]])}
    print(assert_parity("BigBirdForQuestionAnswering", checkpoints("BigBirdForQuestionAnswering"), explicit))


def test_training_mode_random_blocks_parity(checkpoints):
    """With dropout off, training mode uses the reference's seeded random plan: outputs match."""
    import torch

    path = checkpoints("BigBirdModel", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    inputs = inputs_for("BigBirdModel")
    reference = transformers.BigBirdModel.from_pretrained(path).train()
    with torch.no_grad():
        expected = reference(**{k: torch.as_tensor(v) for k, v in inputs.items()}).last_hidden_state.numpy()
    model = tfmodels.BigBirdModel.from_pretrained(path)
    trained = model(inputs, training=True)["last_hidden_state"].numpy()
    assert np.abs(trained - expected).max() <= 1e-5
    inference = model(inputs, training=False)["last_hidden_state"].numpy()
    assert np.abs(trained - inference).max() > 1e-3  # the random blocks differ from inference's block 0


@pytest.mark.parametrize("seq_len", [68, 80, 1024])
def test_random_plan_matches_reference_generator(seq_len):
    """`random_block_plan` equals the reference's NumPy plan (global `np.random.seed(seed)`), per seed."""
    from transformers.models.big_bird.modeling_big_bird import BigBirdBlockSparseAttention

    config = tiny_config(max_position_embeddings=1024)
    reference = BigBirdBlockSparseAttention(config, seed=3).train()
    num_heads, size, r = config.num_attention_heads, config.block_size, config.num_random_blocks
    np.random.seed(3)
    if seq_len == 1024:  # the paper's plan
        expected = np.stack([reference._bigbird_block_rand_mask(1024, 1024, size, size, r, last_idx=1024)
                             for _ in range(num_heads)])
    else:
        lengths, counts = reference._get_rand_attn_plan(seq_len, size, r)
        expected = np.stack(reference._bigbird_block_rand_mask_with_head(
            seq_len, seq_len, size, size, num_heads, lengths, counts))
    plan = random_block_plan(seq_len, size, r, num_heads, seed=3, training=True, max_seq_len=1024)
    np.testing.assert_array_equal(plan, expected)
    np.testing.assert_array_equal(plan, random_block_plan(seq_len, size, r, num_heads, seed=3, training=True,
                                                          max_seq_len=1024))  # deterministic per seed
    assert not np.array_equal(plan, random_block_plan(seq_len, size, r, num_heads, seed=4, training=True,
                                                      max_seq_len=1024))
    assert not random_block_plan(seq_len, size, r, num_heads, training=False, max_seq_len=1024).any()


def test_full_attention_fallback_warns_and_matches(checkpoints, caplog):
    """Up to (5 + 2 R) K tokens the reference (and tfmodels) run full attention, with a warning."""
    path = checkpoints("BigBirdModel")
    inputs = inputs_for("BigBirdModel", seq_len=36)
    with caplog.at_level("WARNING", logger="tfmodels"):
        # The reference swaps in new full-attention modules after its output hooks are installed,
        # so it returns no `attentions` on this path; ours are the full-attention probabilities.
        assert_parity("BigBirdModel", path, inputs, skip=("attentions",))
    assert "'block_sparse' is not possible if sequence_length: 36 <= " in caplog.text
    assert "Using 'original_full' attention" in caplog.text
    model = tfmodels.BigBirdModel.from_pretrained(path)
    assert model(inputs, output_attentions=True)["attentions"][0].shape == (3, 4, 36, 36)
    caplog.clear()
    with caplog.at_level("WARNING", logger="tfmodels"):
        model(inputs_for("BigBirdModel", seq_len=37))
    assert "is not possible" not in caplog.text


def test_xla_matches_eager(checkpoints):
    model = tfmodels.BigBirdForQuestionAnswering.from_pretrained(checkpoints("BigBirdForQuestionAnswering"))
    inputs = {k: tf.constant(v, tf.int32) for k, v in inputs_for("BigBirdForQuestionAnswering").items()}
    eager = model(inputs, training=False, output_attentions=True)
    compiled = tf.function(lambda x: model(x, training=False, output_attentions=True), jit_compile=True)(inputs)
    for name in ("start_logits", "end_logits", "attentions"):
        diff = np.max(np.abs(np.asarray(eager[name]) - np.asarray(compiled[name])))
        assert diff <= 1e-5, (name, diff)


@pytest.mark.parametrize("class_name", ["BigBirdForQuestionAnswering",
                                        pytest.param("BigBirdForMaskedLM", marks=pytest.mark.slow)])
def test_save_pretrained_round_trip(class_name, checkpoints, tmp_path):
    assert_save_round_trip(class_name, checkpoints(class_name), inputs_for(class_name), tmp_path / "ours")


def test_auto_classes(checkpoints):
    path = checkpoints("BigBirdForMaskedLM")
    assert type(tfmodels.AutoModel.from_pretrained(path)).__name__ == "BigBirdModel"
    assert type(tfmodels.AutoModelForMaskedLM.from_pretrained(path)).__name__ == "BigBirdForMaskedLM"
    for task, suffix in [("sequence-classification", "ForSequenceClassification"),
                         ("token-classification", "ForTokenClassification"),
                         ("question-answering", "ForQuestionAnswering"), ("multiple-choice", "ForMultipleChoice"),
                         ("causal-lm", "ForCausalLM")]:
        assert tfmodels.auto.MODEL_REGISTRIES[task]["big_bird"].__name__ == "BigBird" + suffix


@pytest.mark.slow
def test_causal_lm_greedy_generate(tmp_path):
    """Greedy decoding over the KV cache (full attention), left-padded prompts: token-identical."""
    import torch

    config = tiny_config("BigBirdForCausalLM", attention_type="original_full", initializer_range=0.4)
    path = hf_checkpoint("BigBirdForCausalLM", config, tmp_path)
    reference = transformers.BigBirdForCausalLM.from_pretrained(path).eval()
    rng = np.random.RandomState(0)
    ids, mask = rng.randint(6, 98, (3, 7)), np.ones((3, 7), "int64")
    mask[1, :3], mask[2, :5] = 0, 0
    ids[mask == 0] = config.pad_token_id
    expected = reference.generate(torch.tensor(ids), attention_mask=torch.tensor(mask), do_sample=False,
                                  max_new_tokens=8, pad_token_id=config.pad_token_id).numpy()
    model = tfmodels.BigBirdForCausalLM.from_pretrained(path)
    got = model.generate(ids, attention_mask=mask, max_new_tokens=8, pad_token_id=config.pad_token_id).numpy()
    np.testing.assert_array_equal(got, expected)
    assert len(np.unique(got[:, 7:])) > 2  # a non-degenerate continuation


def test_unknown_length_block_sparse_is_refused(checkpoints):
    """Block-sparse attention plans its blocks when traced: a dynamic-length graph gets a clear error."""
    model = tfmodels.BigBirdModel.from_pretrained(checkpoints("BigBirdModel"))
    fn = tf.function(lambda ids: model({"input_ids": ids})["last_hidden_state"],
                     input_signature=[tf.TensorSpec([None, None], tf.int32)])
    with pytest.raises(ValueError, match="sequence length known when the graph is traced"):
        fn.get_concrete_function()
    fixed = tf.function(lambda ids: model({"input_ids": ids})["last_hidden_state"],
                        input_signature=[tf.TensorSpec([None, SEQ_LEN], tf.int32)])
    assert fixed(tf.ones((1, SEQ_LEN), tf.int32)).shape == (1, SEQ_LEN, 32)
