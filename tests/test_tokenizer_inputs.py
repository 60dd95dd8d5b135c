"""A `transformers` `BatchEncoding` works wherever Keras takes model inputs (call, predict, fit, tf.data)."""

import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers

import tfmodels
from tests.helpers import TOLERANCE, hf_checkpoint
from tests.pipeline_checkpoints import _files
from tests.tiny_models import tiny_config

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "away", "very", "fast"]
TEXTS = ["the cat sat on a mat", "a dog ran", "the dog ran very fast far away", "cat"]
LABELS = np.array([0, 1, 2, 1])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tokenizer_inputs")
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = transformers.BertTokenizerFast(**_files(vocab=str(vocab)))
    # The words are in the vocabulary: real ids, not [UNK] everywhere.
    assert tokenizer.vocab_size == 5 + len(WORDS)
    assert tokenizer.unk_token_id not in np.asarray(tokenizer(TEXTS, padding=True)["input_ids"])
    config = transformers.BertConfig(**{**tiny_config("bert"), "vocab_size": tokenizer.vocab_size, "num_labels": 3})
    hf_checkpoint("BertForSequenceClassification", config, directory / "model")
    return tokenizer, str(directory / "model")


def _encode(tokenizer, return_tensors="np"):
    return tokenizer(TEXTS, padding=True, return_tensors=return_tensors)


def _torch_logits_and_loss(path, tokenizer):
    model = transformers.BertForSequenceClassification.from_pretrained(path).eval()
    with torch.no_grad():
        out = model(**_encode(tokenizer, "pt"), labels=torch.tensor(LABELS))
    return out.logits.numpy(), float(out.loss)


def test_call_with_batch_encoding_matches_torch(checkpoint):
    tokenizer, path = checkpoint
    enc = _encode(tokenizer)
    assert isinstance(enc, transformers.BatchEncoding) and not isinstance(enc, dict)
    expected, _ = _torch_logits_and_loss(path, tokenizer)
    model = tfmodels.BertForSequenceClassification.from_pretrained(path)
    got = model(enc, training=False)["logits"].numpy()
    assert np.abs(got - expected).max() <= TOLERANCE


def test_predict_with_batch_encoding_matches_torch(checkpoint):
    tokenizer, path = checkpoint
    expected, _ = _torch_logits_and_loss(path, tokenizer)
    model = tfmodels.BertForSequenceClassification.from_pretrained(path)
    got = model.predict(_encode(tokenizer), batch_size=2, verbose=0)["logits"]
    assert np.abs(got - expected).max() <= TOLERANCE
    got = model.predict_on_batch(_encode(tokenizer))["logits"]
    assert np.abs(got - expected).max() <= TOLERANCE


def test_evaluate_with_batch_encoding_matches_torch_loss(checkpoint):
    tokenizer, path = checkpoint
    _, expected = _torch_logits_and_loss(path, tokenizer)
    model = tfmodels.BertForSequenceClassification.from_pretrained(path)
    model.compile(optimizer="adam")
    loss = model.evaluate(_encode(tokenizer), LABELS, batch_size=4, verbose=0, return_dict=True)["loss"]
    assert abs(loss - expected) <= TOLERANCE


@pytest.mark.parametrize("source", ["arrays", "dataset", "dataset_of_dict", "train_on_batch"])
def test_fit_with_batch_encoding(checkpoint, source):
    tokenizer, path = checkpoint
    enc = _encode(tokenizer)
    model = tfmodels.BertForSequenceClassification.from_pretrained(path)
    model.compile(optimizer="adam")
    before = [w.numpy() for w in model.trainable_weights]
    if source == "arrays":
        losses = model.fit(enc, LABELS, batch_size=2, epochs=1, verbose=0, validation_data=(enc, LABELS)).history
        assert np.isfinite(losses["val_loss"]).all()
    elif source == "train_on_batch":
        losses = {"loss": [model.train_on_batch(enc, LABELS)]}
    else:
        features = enc if source == "dataset" else dict(enc)
        dataset = tf.data.Dataset.from_tensor_slices((features, LABELS)).batch(2)
        losses = model.fit(dataset, epochs=1, verbose=0, shuffle=False).history
    assert np.isfinite(losses["loss"]).all()
    assert any(np.abs(a - w.numpy()).max() > 0 for a, w in zip(before, model.trainable_weights))
