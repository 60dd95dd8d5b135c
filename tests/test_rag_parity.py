"""RAG (RagModel, RagTokenForGeneration, RagSequenceForGeneration) and the local retriever against
`transformers` PyTorch, on tiny random DPR + BART / T5 models with the documents given."""

import functools
import re
import types
from pathlib import Path

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import _to_numpy, compare_outputs, hf_checkpoint
from tfmodels.models.rag import retrieval

PASSAGES = Path(__file__).resolve().parents[1] / "examples" / "data" / "city_passages.jsonl"
B, N_DOCS, S, T = 2, 3, 7, 5
CLASSES = ("RagModel", "RagTokenForGeneration", "RagSequenceForGeneration")


def dpr_config(vocab_size=99):
    return transformers.DPRConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=37, max_position_embeddings=64)


def bart_config(vocab_size=99):
    return transformers.BartConfig(vocab_size=vocab_size, d_model=24, encoder_layers=2, decoder_layers=3,
                                   encoder_attention_heads=4, decoder_attention_heads=2, encoder_ffn_dim=31,
                                   decoder_ffn_dim=29, max_position_embeddings=64, init_std=0.2)


def t5_config():
    return transformers.T5Config(vocab_size=99, d_model=24, d_kv=6, d_ff=29, num_layers=2, num_decoder_layers=3,
                                 num_heads=3, relative_attention_num_buckets=8, relative_attention_max_distance=20,
                                 decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)


def rag_checkpoint(directory, generator, **fields):
    config = transformers.RagConfig.from_question_encoder_generator_configs(
        dpr_config(generator.vocab_size), generator, n_docs=N_DOCS, **fields)
    return hf_checkpoint("RagTokenForGeneration", config, directory)


@pytest.fixture(scope="module")
def bart_rag(tmp_path_factory):
    return rag_checkpoint(tmp_path_factory.mktemp("rag_bart"), bart_config())


@pytest.fixture(scope="module")
def token_model(bart_rag):
    """Our `RagTokenForGeneration` on the BART checkpoint, shared by the tests that only read it."""
    return tfmodels.RagTokenForGeneration.from_pretrained(bart_rag)


def documents(pad_token_id=1, seed=0):
    """`n_docs` contexts per question with padding, doc scores, and labels starting with a bos (0)."""
    rng = np.random.default_rng(seed)
    context = rng.integers(3, 99, (B * N_DOCS, S))
    mask = np.ones_like(context)
    mask[1, 4:] = 0
    mask[4, 2:] = 0
    context[mask == 0] = pad_token_id
    labels = rng.integers(3, 99, (B, T))
    labels[:, 0] = 0
    labels[1, 3:] = pad_token_id
    return {"context_input_ids": context, "context_attention_mask": mask,
            "doc_scores": rng.normal(size=(B, N_DOCS)).astype("float32"), "labels": labels}


def reference_model(class_name, path, **fields):
    model = getattr(transformers, class_name).from_pretrained(path, **fields).eval()
    model.set_attn_implementation("eager")
    # The reference's RagModel passes no `output_hidden_states` to its sub-models, nor `output_attentions` to
    # its question encoder (ours passes both): ask for them.
    model.generator.forward = functools.partial(model.generator.forward, output_hidden_states=True)
    model.question_encoder.forward = functools.partial(model.question_encoder.forward, output_hidden_states=True,
                                                       output_attentions=True)
    return model


def reference_call(model, inputs, **kwargs):
    import torch

    with torch.no_grad():
        outputs = model(**{k: torch.as_tensor(v) for k, v in inputs.items()}, output_attentions=True,
                        output_hidden_states=True, **kwargs)
    # `context_input_ids=(None,)` is what the reference returns when it did not retrieve.
    return {k: _to_numpy(v) for k, v in outputs.items()
            if v is not None and not (isinstance(v, tuple) and (not v or v[0] is None)) and k != "cache"}


def assert_rag_parity(class_name, path, inputs, call_kwargs=None, model=None, **fields):
    call_kwargs = call_kwargs or {}
    reference = reference_call(reference_model(class_name, path, **fields), inputs, **call_kwargs)
    model = model or getattr(tfmodels, class_name).from_pretrained(path, **fields)
    ours = model(inputs, training=False, output_attentions=True, output_hidden_states=True, **call_kwargs)
    diffs = compare_outputs({k: _to_numpy(v) for k, v in ours.items()}, reference)
    assert "generator_dec_hidden_states" in diffs and "generator_cross_attentions" in diffs
    return diffs


@pytest.mark.parametrize("class_name", CLASSES)
def test_parity_given_documents(class_name, bart_rag, token_model):
    inputs = documents()
    if class_name == "RagModel":
        inputs["decoder_input_ids"] = inputs.pop("labels")
    model = token_model if class_name == "RagTokenForGeneration" else None
    diffs = assert_rag_parity(class_name, bart_rag, inputs, model=model)
    assert class_name == "RagModel" or "loss" in diffs
    print(class_name, max(diffs.values()), diffs)


@pytest.mark.slow
@pytest.mark.parametrize("class_name,call_kwargs", [
    ("RagTokenForGeneration", {"reduce_loss": True, "do_marginalize": True}),
    ("RagSequenceForGeneration", {"reduce_loss": True, "exclude_bos_score": True}),
])
def test_loss_options(class_name, call_kwargs, bart_rag):
    """`reduce_loss`, label smoothing (`epsilon` = `config.label_smoothing`), marginalised logits, bos exclusion."""
    diffs = assert_rag_parity(class_name, bart_rag, documents(), call_kwargs, label_smoothing=0.1)
    print(class_name, call_kwargs, diffs["loss"], max(diffs.values()))


@pytest.mark.slow
def test_t5_generator_parity_and_generate(tmp_path):
    path = rag_checkpoint(tmp_path, t5_config())
    inputs = documents(pad_token_id=0)
    print("t5", max(assert_rag_parity("RagTokenForGeneration", path, inputs).values()))
    assert_generate_matches("RagTokenForGeneration", path, inputs, max_length=8)


def assert_generate_matches(class_name, path, inputs, model=None, **options):
    """Token-identical `generate()` given the documents; the reference runs without its cache (see
    `tests.helpers.reference_generate`: it breaks when `num_decoder_layers > num_layers`). Lengths are
    given as `max_length`: the reference's RAG-token `generate()` does not apply `max_new_tokens`."""
    import torch

    reference = getattr(transformers, class_name).from_pretrained(path).eval()
    docs = {k: inputs[k] for k in ("context_input_ids", "context_attention_mask", "doc_scores")}
    reference_options = {k: v for k, v in options.items() if k != "jit_compile"}
    with torch.no_grad():
        expected = reference.generate(**{k: torch.as_tensor(v) for k, v in docs.items()}, n_docs=N_DOCS,
                                      do_sample=False, use_cache=False, **reference_options).numpy()
    ours = (model or getattr(tfmodels, class_name).from_pretrained(path)).generate(**docs, **options)
    np.testing.assert_array_equal(np.asarray(ours), expected)
    return expected


BEAMS = dict(max_length=8, min_length=4, num_beams=3, num_return_sequences=2)


@pytest.mark.parametrize("options", [
    dict(max_length=9, min_length=5),  # XLA-compiled (the default)
    dict(BEAMS, jit_compile=False),  # the same loop as a plain tf.function: ~10 s less compiling
    pytest.param(BEAMS, marks=pytest.mark.slow),
])
def test_rag_token_generate(options, bart_rag, token_model):
    """Greedy and beam search, token-identical to the reference given the documents."""
    expected = assert_generate_matches("RagTokenForGeneration", bart_rag, documents(), token_model, **options)
    assert expected.shape[1] >= 5 and len({tuple(row) for row in expected}) > 1


@pytest.mark.slow
def test_rag_sequence_generate(bart_rag):
    assert_generate_matches("RagSequenceForGeneration", bart_rag, documents(), num_beams=2, max_new_tokens=4)


def test_save_round_trip(token_model, tmp_path):
    inputs = documents()
    model = token_model
    model.save_pretrained(tmp_path)
    reference = reference_call(reference_model("RagTokenForGeneration", str(tmp_path)), inputs)
    ours = model(inputs, training=False, output_attentions=True, output_hidden_states=True)
    print("round trip", max(compare_outputs({k: _to_numpy(v) for k, v in ours.items()}, reference).values()))
    assert type(tfmodels.AutoModel.from_pretrained(tmp_path)) is tfmodels.RagModel


def test_missing_documents_and_shapes(token_model):
    model = token_model
    inputs = documents()
    with pytest.raises(ValueError, match="retriever"):
        model({"input_ids": inputs["labels"], "labels": inputs["labels"]})
    with pytest.raises(ValueError, match="n_docs=2"):
        model(inputs, n_docs=2)
    with pytest.raises(TypeError, match="doc_scores"):
        model({**inputs, "doc_scores": np.ones((B, N_DOCS), "int32")})


# -- the retriever -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer():
    passages = retrieval.PassageIndex.load_passages(PASSAGES)
    words = set()
    for p in passages:
        words |= set(re.findall(r"\w+|[^\w\s]", (p["title"] + " " + p["text"]).lower()))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words | {"what", "which", "?"})]
    return transformers.BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})


def test_index_matches_exact_numpy_search(tokenizer, tmp_path):
    passages = retrieval.PassageIndex.load_passages(PASSAGES)
    assert len(passages) >= 30 and passages[0]["title"] == "Paris"
    hf = hf_checkpoint("DPRContextEncoder", dpr_config(len(tokenizer)), tmp_path / "ctx")
    encoder = tfmodels.DPRContextEncoder.from_pretrained(hf)
    index = retrieval.PassageIndex.from_passages(passages, encoder, tokenizer, batch_size=16, use_faiss=False)
    first = tokenizer(passages[0]["title"], passages[0]["text"], return_tensors="np")
    np.testing.assert_allclose(index.embeddings[0], np.asarray(encoder(dict(first))["pooler_output"])[0],
                               atol=1e-5)
    queries = np.random.default_rng(0).normal(size=(4, index.vector_size)).astype("float32")
    scores, ids = index.search(queries, 5)
    exact = queries.astype("float64") @ index.embeddings.astype("float64").T
    np.testing.assert_array_equal(ids, np.argsort(-exact, axis=1)[:, :5])
    np.testing.assert_allclose(scores, np.take_along_axis(exact, ids, 1), atol=1e-5)
    if retrieval.faiss is not None:
        faiss_scores, faiss_ids = retrieval.PassageIndex(index.embeddings, passages, use_faiss=True).search(queries, 5)
        np.testing.assert_array_equal(faiss_ids, ids)
        np.testing.assert_allclose(faiss_scores, scores, atol=1e-5)
    reloaded = retrieval.PassageIndex.load(index.save(tmp_path / "index"), use_faiss=False)
    np.testing.assert_array_equal(reloaded.search(queries, 5)[1], ids)
    with pytest.raises(ValueError, match="n_docs=99"):
        index.search(queries, 99)


def test_contexts_match_reference_postprocessing(tokenizer):
    """Our joined, tokenized contexts equal `transformers.RagRetriever.postprocess_docs`' on the same documents."""
    config = transformers.RagConfig(max_combined_length=24)
    docs = [{"title": ['"Paris"', "Rome"], "text": ["Paris is  the capital.", "Rome lies on the Tiber."]}] * 2
    questions = ["what is the capital of france?", "which river?"]
    reference_self = types.SimpleNamespace(config=config, generator_tokenizer=tokenizer)
    expected = transformers.RagRetriever.postprocess_docs(reference_self, docs, questions, "p: ", 2,
                                                          return_tensors="np")
    retriever = retrieval.RagRetriever(None, tokenizer, tokenizer, config=config.to_dict())
    ours = retriever.postprocess_docs(docs, questions, "p: ", 2)
    np.testing.assert_array_equal(ours[0], expected[0])
    np.testing.assert_array_equal(ours[1], expected[1])


@pytest.mark.parametrize("generate", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_retrieval_inside_the_model_matches_reference(generate, tokenizer, tmp_path):
    """The question encoder, retrieval, doc scores and generator in one call, against the reference's
    `RagModel` forward fed by the same retriever (our index's documents, as torch tensors); `generate`
    with the retriever equals `generate` given the documents it retrieves."""
    import torch

    vocab = len(tokenizer)
    generator = bart_config(vocab)
    generator.pad_token_id = tokenizer.pad_token_id
    path = rag_checkpoint(tmp_path / "rag", generator, max_combined_length=40)
    model = tfmodels.RagTokenForGeneration.from_pretrained(path)
    encoder = tfmodels.DPRContextEncoder.from_pretrained(hf_checkpoint("DPRContextEncoder", dpr_config(vocab),
                                                                       tmp_path / "ctx"))
    index = retrieval.PassageIndex.from_passages(retrieval.PassageIndex.load_passages(PASSAGES), encoder, tokenizer)
    retriever = retrieval.RagRetriever(index, tokenizer, tokenizer, config=model.config)
    model.set_retriever(retriever)
    questions = tokenizer(["What is the capital of France?", "Which river is in Rome?"], padding="longest",
                          return_tensors="np")
    inputs = {"input_ids": questions["input_ids"], "attention_mask": questions["attention_mask"],
              "labels": documents()["labels"]}

    reference = reference_model("RagTokenForGeneration", path)
    reference.rag.retriever = lambda ids, states, prefix=None, n_docs=None, return_tensors=None: {
        k: torch.as_tensor(v) for k, v in retriever(ids, states, prefix=prefix, n_docs=n_docs).items()}
    expected = reference_call(reference, inputs, output_retrieved=True)
    ours = model(inputs, output_attentions=True, output_hidden_states=True, output_retrieved=True)
    diffs = compare_outputs({k: _to_numpy(v) for k, v in ours.items()}, expected)
    assert {"question_encoder_last_hidden_state", "retrieved_doc_embeds", "doc_scores", "context_input_ids"} <= set(diffs)
    print("retrieval", max(diffs.values()))
    if not generate:
        return
    retrieved = model.rag.retrieve(questions["input_ids"], questions["attention_mask"])
    docs = {k: retrieved[k] for k in ("context_input_ids", "context_attention_mask", "doc_scores")}
    from_questions = model.generate(input_ids=questions["input_ids"], attention_mask=questions["attention_mask"],
                                    max_new_tokens=4)
    np.testing.assert_array_equal(from_questions, model.generate(**docs, max_new_tokens=4))


@pytest.mark.slow
def test_forward_compiles_with_xla(token_model):
    import tensorflow as tf

    inputs = {k: tf.constant(v) for k, v in documents().items()}
    eager = token_model(inputs, training=False)
    compiled = tf.function(lambda x: token_model(x, training=False), jit_compile=True)(inputs)
    for name in ("loss", "logits", "doc_scores", "generator_enc_last_hidden_state"):
        np.testing.assert_allclose(np.asarray(compiled[name]), np.asarray(eager[name]), atol=1e-5)


def test_sub_model_key_patterns_under_a_prefix():
    """The composite table's ignored / other-head patterns match `prefix.key` exactly when the sub-model's match `key`."""
    from tfmodels.converters.rag import _prefix_patterns

    patterns = (r"(^|\.)pooler\.", r"^lm_head\.", r"^(model\.)?encoder\.", r"[^a]x$")
    keys = ("bert_model.pooler.dense.weight", "pooler.w", "xpooler.w", "lm_head.weight", "model.lm_head.weight",
            "encoder.a", "model.encoder.a", "x.encoder.a", "bx", "ax")
    for pattern, prefixed_pattern in zip(patterns, _prefix_patterns(patterns, "rag.generator")):
        for key in keys:
            assert bool(re.search(prefixed_pattern, "rag.generator." + key)) == bool(re.search(pattern, key)), (pattern, key)
        assert not re.search(prefixed_pattern, "rag.question_encoder.pooler.w")
