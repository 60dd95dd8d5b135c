"""`tfmodels export/convert --task seq2seq-lm` for T5: a SavedModel whose `serving_default` takes encoder and
decoder inputs, reloaded in a fresh process without tfmodels, gives the `transformers` PyTorch logits; a
converted directory loads back with the same outputs."""

import numpy as np
import pytest

import tfmodels
from tests.helpers import hf_checkpoint
from tests.test_cli import _cli
from tests.test_export import _run_in_fresh_process
from tests.test_t5_parity import VOCAB, t5_config


def _feeds():
    rng = np.random.RandomState(0)
    feeds = {}
    for batch, source, target in ((2, 7, 5), (3, 4, 6)):  # two shapes through one signature
        mask, decoder_mask = np.ones((batch, source), "int32"), np.ones((batch, target), "int32")
        mask[0, -2:], decoder_mask[-1, -1:] = 0, 0
        feeds[f"{batch}x{source}x{target}"] = dict(
            input_ids=rng.randint(2, VOCAB, (batch, source)).astype("int32"), attention_mask=mask,
            decoder_input_ids=rng.randint(2, VOCAB, (batch, target)).astype("int32"),
            decoder_attention_mask=decoder_mask)
    return feeds


def _reference_logits(path, feed):
    import torch
    import transformers

    model = transformers.T5ForConditionalGeneration.from_pretrained(path).eval()
    with torch.no_grad():
        return model(**{k: torch.as_tensor(v).long() for k, v in feed.items()}, use_cache=False).logits.numpy()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return hf_checkpoint("T5ForConditionalGeneration", t5_config("gated-gelu", True), tmp_path_factory.mktemp("t5"))


def test_cli_export_seq2seq_lm_serves_transformers_logits_in_a_fresh_process(checkpoint, tmp_path):
    result = _cli("export", checkpoint, str(tmp_path / "saved_model"), "--task", "seq2seq-lm")
    assert result.returncode == 0, result.stderr[-3000:]
    feeds = _feeds()
    np.save(tmp_path / "inputs.npy", feeds, allow_pickle=True)
    served = _run_in_fresh_process(tmp_path / "saved_model", tmp_path / "inputs.npy", tmp_path / "outputs.npy")
    for key, feed in feeds.items():
        assert np.abs(served[key]["logits"] - _reference_logits(checkpoint, feed)).max() <= 1e-5, key


@pytest.mark.slow  # convert's T5 path is the loader's and saver's, tested in the default suite elsewhere
def test_cli_convert_seq2seq_lm_loads_back(checkpoint, tmp_path):
    result = _cli("convert", checkpoint, str(tmp_path / "converted"), "--task", "seq2seq-lm")
    assert result.returncode == 0, result.stderr[-3000:]
    model = tfmodels.AutoModelForSeq2SeqLM.from_pretrained(str(tmp_path / "converted"))
    assert type(model).__name__ == "T5ForConditionalGeneration"
    feed = _feeds()["2x7x5"]
    assert np.abs(np.asarray(model(feed)["logits"]) - _reference_logits(checkpoint, feed)).max() <= 1e-5
