"""`tfmodels.SentenceEmbedder` on the real all-MiniLM-L6-v2 against sentence-transformers."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import tfmodels
from tfmodels import demo
from tfmodels.layers.pooling.masked_mean import POOLING_MODES, sentence_pooling

# Real sentences of very different lengths (several buckets), in no particular order.
SENTENCES = demo.read_dataset()[0][:37] + ["Short.", "Ok", "Über den Wolken muss die Freiheit wohl grenzenlos sein."]


@pytest.fixture(scope="module")
def checkpoint():
    directory = demo.checkpoint_dir()
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(directory), device="cpu")
    return directory, reference.encode(SENTENCES, convert_to_numpy=True, batch_size=8)


@pytest.fixture(scope="module")
def embedder(checkpoint):
    return tfmodels.SentenceEmbedder.from_pretrained(checkpoint[0], bucket_size=8)


def test_reads_the_sentence_transformers_modules(embedder):
    assert (embedder.pooling, embedder.normalize, embedder.max_length) == ("mean", True, 256)


@pytest.mark.parametrize("batch_size", [1, 7, 32])
def test_encode_matches_sentence_transformers(checkpoint, embedder, batch_size):
    ours = embedder.encode(SENTENCES, batch_size=batch_size)
    assert ours.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    diff = float(np.abs(ours - checkpoint[1]).max())
    assert diff <= 1e-5, diff  # measured 2.1e-7


def test_single_string_and_unnormalized(checkpoint, embedder):
    one = embedder.encode(SENTENCES[3])
    assert one.shape == (384,)
    np.testing.assert_allclose(one, checkpoint[1][3], atol=1e-5)
    raw = embedder.encode(SENTENCES[:4], normalize_embeddings=False)
    norms = np.linalg.norm(raw, axis=1)
    assert np.all(np.abs(norms - 1) > 1e-2)  # not unit vectors
    np.testing.assert_allclose(raw / norms[:, None], checkpoint[1][:4], atol=1e-5)


def test_xla_path_matches_and_compiles_once_per_bucket(checkpoint, embedder):
    xla = tfmodels.SentenceEmbedder(embedder.model, embedder.tokenizer, "mean", True, 256, bucket_size=16,
                                    jit_compile=True)
    ours = xla.encode(SENTENCES, batch_size=16)
    np.testing.assert_allclose(ours, checkpoint[1], atol=1e-5)
    lengths = [len(ids) for ids, _ in xla.tokenize(SENTENCES)]
    order = sorted(lengths, reverse=True)
    shapes = {(min(16, len(order) - s), xla.padded_length(order[s])) for s in range(0, len(order), 16)}
    traces = xla._embed.experimental_get_tracing_count()
    assert traces == len(shapes), (traces, shapes)
    xla.encode(SENTENCES, batch_size=16)
    assert xla._embed.experimental_get_tracing_count() == traces  # no retrace for the same shapes


@pytest.mark.parametrize("mode", POOLING_MODES)
def test_pooling_modes_match_sentence_transformers(mode):
    from sentence_transformers.models import Pooling

    rng = np.random.RandomState(0)
    hidden = rng.randn(3, 6, 5).astype("float32")
    mask = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]], "int32")
    names = {"mean": "mean", "cls": "cls", "max": "max", "mean_sqrt_len": "mean_sqrt_len_tokens"}
    reference = Pooling(5, pooling_mode=names[mode])({
        "token_embeddings": torch.from_numpy(hidden), "attention_mask": torch.from_numpy(mask).long()
    })["sentence_embedding"].numpy()
    ours = np.asarray(sentence_pooling(hidden, mask, mode))
    np.testing.assert_allclose(ours, reference, atol=1e-6)


def test_export_runs_in_a_fresh_process(checkpoint, embedder, tmp_path):
    path = embedder.export(tmp_path / "embedder")
    tokens = embedder.tokenize(SENTENCES[:5])
    length = max(len(ids) for ids, _ in tokens)
    ids = np.zeros((5, length), np.int32)
    mask = np.zeros_like(ids)
    for row, (token_ids, _) in enumerate(tokens):
        ids[row, :len(token_ids)], mask[row, :len(token_ids)] = token_ids, 1
    np.save(tmp_path / "ids.npy", ids)
    np.save(tmp_path / "mask.npy", mask)
    script = textwrap.dedent(f"""
        import sys, numpy as np, tensorflow as tf
        serve = tf.saved_model.load({str(path)!r}).signatures["serving_default"]
        ids = np.load({str(tmp_path / "ids.npy")!r}); mask = np.load({str(tmp_path / "mask.npy")!r})
        out = serve(input_ids=ids, attention_mask=mask, token_type_ids=np.zeros_like(ids))["sentence_embedding"]
        np.save({str(tmp_path / "out.npy")!r}, out.numpy())
        print("tfmodels" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "False"
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), checkpoint[1][:5], atol=1e-5)
    with pytest.raises(FileExistsError, match="overwrite"):
        embedder.export(path)


def test_bad_input_errors(embedder, tmp_path):
    with pytest.raises(TypeError, match="string"):
        embedder.encode([1, 2])
    with pytest.raises(ValueError, match="batch_size"):
        embedder.encode(["a"], batch_size=0)
    with pytest.raises(ValueError, match="pooling"):
        tfmodels.SentenceEmbedder(embedder.model, embedder.tokenizer, pooling="sum")
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]))
    from tfmodels.sentence_embeddings import read_sentence_transformers_config

    with pytest.raises(ValueError, match="Dense"):
        read_sentence_transformers_config(tmp_path)
