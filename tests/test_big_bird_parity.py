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
    compare_outputs,
    hf_checkpoint,
    random_inputs,
    reference_generate,
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


@pytest.mark.parametrize("attention_type", ["block_sparse", "original_full"])
@pytest.mark.parametrize("class_name", CLASSES)
def test_parity(class_name, attention_type, checkpoints, tmp_path):
    path = checkpoints(class_name)
    if attention_type == "original_full":
        path = with_attention_type(path, attention_type, tmp_path)
    diffs = assert_parity(class_name, path, inputs_for(class_name))
    print(class_name, attention_type, diffs)
