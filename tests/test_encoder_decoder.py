"""Cross-attention decoders (`add_cross_attention=True`), BertGeneration and `EncoderDecoderModel`
against `transformers` PyTorch: every output (cross-attentions included), the cached path,
token-identical `generate()` and save round trips, on tiny odd configs."""

import numpy as np
import pytest
import torch
import transformers

import tfmodels
from tests.helpers import (
    _randomize_zero_params,
    _to_numpy,
    assert_parity,
    assert_save_round_trip,
    compare_outputs,
    hf_checkpoint,
    random_inputs,
    reference_generate,
    torch_outputs,
)

ENC_VOCAB, DEC_VOCAB = 99, 101


def bert_config(**overrides):
    fields = dict(vocab_size=ENC_VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=37, max_position_embeddings=64, type_vocab_size=3)
    return transformers.BertConfig(**{**fields, **overrides})


def roberta_config(prefix="Roberta", **overrides):
    fields = dict(vocab_size=ENC_VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=37, max_position_embeddings=64, type_vocab_size=1, pad_token_id=1)
    return getattr(transformers, f"{prefix}Config")(**{**fields, **overrides})


def electra_config(**overrides):
    fields = dict(vocab_size=ENC_VOCAB, embedding_size=20, hidden_size=32, num_hidden_layers=2,
                  num_attention_heads=4, intermediate_size=37, max_position_embeddings=64, type_vocab_size=2)
    return transformers.ElectraConfig(**{**fields, **overrides})


def bert_generation_config(**overrides):
    fields = dict(vocab_size=ENC_VOCAB, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                  intermediate_size=37, max_position_embeddings=64)
    return transformers.BertGenerationConfig(**{**fields, **overrides})


def gpt2_config(**overrides):
    fields = dict(vocab_size=DEC_VOCAB, n_embd=24, n_layer=3, n_head=3, n_positions=64, bos_token_id=1,
                  eos_token_id=2)
    return transformers.GPT2Config(**{**fields, **overrides})


DECODER = dict(is_decoder=True, add_cross_attention=True)
# Decoder classes with cross-attention: (config, width of the states they attend to).
CROSS_CLASSES = {
    "BertLMHeadModel": (lambda: bert_config(**DECODER), 32),
    "RobertaForCausalLM": (lambda: roberta_config(**DECODER), 32),
    "ElectraForCausalLM": (lambda: electra_config(**DECODER), 32),
    "GPT2LMHeadModel": (lambda: gpt2_config(**DECODER), 24),
    "BertGenerationDecoder": (lambda: bert_generation_config(**DECODER), 32),
}
SLOW_CROSS_CLASSES = {
    "BertGenerationEncoder": (lambda: bert_generation_config(**DECODER), 32),
    "BertModel": (lambda: bert_config(**DECODER), 32),
    "XLMRobertaForCausalLM": (lambda: roberta_config("XLMRoberta", **DECODER), 32),
    "CamembertForCausalLM": (lambda: roberta_config("Camembert", **DECODER), 32),
    "ElectraModel": (lambda: electra_config(**DECODER), 32),
    "GPT2Model": (lambda: gpt2_config(**DECODER), 24),
    "RobertaModel": (lambda: roberta_config(**DECODER), 32),
}


def cross_inputs(width, seq_len=7, source_len=5, vocab_size=ENC_VOCAB):
    """Decoder inputs (right-padded) plus padded encoder states `(3, source_len, width)`."""
    inputs = random_inputs(seq_len=seq_len, vocab_size=vocab_size)
    rng = np.random.RandomState(7)
    encoder_mask = np.ones((3, source_len), dtype="int64")
    encoder_mask[1, 3:] = 0
    encoder_mask[2, 1:] = 0
    return {**inputs, "encoder_hidden_states": rng.randn(3, source_len, width).astype("float32"),
            "encoder_attention_mask": encoder_mask}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """`get(name, build)`: a `transformers` checkpoint saved once per module."""
    root, made = tmp_path_factory.mktemp("encdec"), {}

    def get(name, build):
        if name not in made:
            made[name] = build(str(root / name))
        return made[name]

    return get


def _cross_parity(class_name, config, width, checkpoints):
    path = checkpoints(class_name, lambda d: hf_checkpoint(class_name, config(), d))
    inputs = cross_inputs(width, vocab_size=DEC_VOCAB if class_name.startswith("GPT2") else ENC_VOCAB)
    diffs = assert_parity(class_name, path, inputs)
    assert "cross_attentions" in diffs
    return diffs


@pytest.mark.parametrize("class_name", sorted(CROSS_CLASSES))
def test_cross_attention_parity(class_name, checkpoints):
    print(class_name, _cross_parity(class_name, *CROSS_CLASSES[class_name], checkpoints))


@pytest.mark.slow
@pytest.mark.parametrize("class_name", sorted(SLOW_CROSS_CLASSES))
def test_cross_attention_parity_more_classes(class_name, checkpoints):
    print(class_name, _cross_parity(class_name, *SLOW_CROSS_CLASSES[class_name], checkpoints))


@pytest.mark.parametrize("class_name", [pytest.param("BertGenerationEncoder", marks=pytest.mark.slow),
                                        "BertGenerationDecoder"])
def test_bert_generation_parity_without_cross_attention(class_name, checkpoints):
    """As a plain encoder, and as a causal LM (with labels: the shifted next-token loss)."""
    config = bert_generation_config(is_decoder=class_name.endswith("Decoder"))
    path = checkpoints(class_name + "-plain", lambda d: hf_checkpoint(class_name, config, d))
    inputs = random_inputs()
    if class_name.endswith("Decoder"):
        labels = inputs["input_ids"].copy()
        labels[inputs["attention_mask"] == 0] = -100
        inputs["labels"] = labels
    diffs = assert_parity(class_name, path, inputs)
    print(class_name, diffs)
    assert "cross_attentions" not in diffs


@pytest.mark.parametrize("class_name", ["BertLMHeadModel", "GPT2LMHeadModel"])
def test_cached_cross_attention_decoding_matches_full_forward(class_name, checkpoints):
    """Prefill + one-token steps over the KV cache with cross keys/values projected once == the full pass."""
    config, width = CROSS_CLASSES[class_name]
    path = checkpoints(class_name, lambda d: hf_checkpoint(class_name, config(), d))
    model = getattr(tfmodels, class_name).from_pretrained(path)
    inputs = cross_inputs(width, vocab_size=DEC_VOCAB if class_name.startswith("GPT2") else ENC_VOCAB)
    ids = inputs["input_ids"][:1].repeat(3, axis=0)  # unpadded rows, each with its own encoder states/mask
    full = model({"input_ids": ids, "encoder_hidden_states": inputs["encoder_hidden_states"],
                  "encoder_attention_mask": inputs["encoder_attention_mask"]})["logits"].numpy()
    reference = torch_outputs(class_name, path, {"input_ids": ids, **{k: inputs[k] for k in (
        "encoder_hidden_states", "encoder_attention_mask")}})["logits"]
    cross = model.cross_key_values(inputs["encoder_hidden_states"])
    cache, seq_len = model.init_cache(3, ids.shape[1]), ids.shape[1]
    mask = np.zeros((3, seq_len), "int32")
    steps = []
    for start, stop in [(0, 4)] + [(t, t + 1) for t in range(4, seq_len)]:
        mask[:, :stop] = 1
        logits, cache = model.decode_step(ids[:, start:stop], mask, None, cache, start,
                                          encoder_attention_mask=inputs["encoder_attention_mask"],
                                          cross_key_values=cross)
        steps.append(logits.numpy())
    cached = np.concatenate(steps, axis=1)
    assert np.max(np.abs(cached - full)) <= 1e-5
    assert np.max(np.abs(cached - reference)) <= 1e-5


# -- EncoderDecoderModel --------------------------------------------------------------------------

# name: (encoder config, decoder config, top-level fields); initializer_range=0.2 (and, for the tied GPT-2
# decoder, its block weights x2) so that greedy/beam continuations depend on the source and vary.
PAIRS = {
    "bert2bert": (lambda: bert_config(initializer_range=0.2),
                  lambda: bert_config(vocab_size=DEC_VOCAB, num_hidden_layers=3, initializer_range=0.2, **DECODER),
                  dict(decoder_start_token_id=3, pad_token_id=0, eos_token_id=2)),
    "roberta2roberta": (lambda: roberta_config(), lambda: roberta_config(vocab_size=DEC_VOCAB, **DECODER),
                        dict(decoder_start_token_id=0, pad_token_id=1, eos_token_id=2)),
    "bert2gpt2": (lambda: bert_config(initializer_range=0.2), lambda: gpt2_config(initializer_range=0.2, **DECODER),
                  dict(decoder_start_token_id=5, pad_token_id=0, eos_token_id=2)),
}
DECODER_BLOCK_SCALE = {"bert2gpt2": 2.0}
SLOW_PAIRS = {
    "bertgeneration2bertgeneration": (
        lambda: bert_generation_config(), lambda: bert_generation_config(vocab_size=DEC_VOCAB, **DECODER),
        dict(decoder_start_token_id=2, pad_token_id=0, eos_token_id=1)),
    "electra2bert": (lambda: electra_config(), lambda: bert_config(vocab_size=DEC_VOCAB, hidden_size=36,
                                                                   num_attention_heads=3, **DECODER),
                     dict(decoder_start_token_id=3, pad_token_id=0, eos_token_id=2)),
}


def encoder_decoder_checkpoint(name, directory):
    encoder, decoder, top = {**PAIRS, **SLOW_PAIRS}[name]
    config = transformers.EncoderDecoderConfig.from_encoder_decoder_configs(encoder(), decoder())
    for key, value in top.items():
        setattr(config, key, value)
    torch.manual_seed(0)
    model = transformers.EncoderDecoderModel(config=config).eval()
    _randomize_zero_params(model, 0)
    with torch.no_grad():
        for key, param in model.decoder.named_parameters():
            if ".h." in key and key.endswith("weight") and ".ln" not in key:
                param.mul_(DECODER_BLOCK_SCALE.get(name, 1.0))
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def pair(checkpoints):
    """`get(name) -> (path, tfmodels model, transformers model)`, each loaded once per module."""
    loaded = {}

    def get(name):
        if name not in loaded:
            path = checkpoints(name, lambda d: encoder_decoder_checkpoint(name, d))
            reference = transformers.EncoderDecoderModel.from_pretrained(path, attn_implementation="eager").eval()
            loaded[name] = (path, tfmodels.EncoderDecoderModel.from_pretrained(path), reference)
        return loaded[name]

    return get


def seq2seq_inputs(with_labels):
    inputs = random_inputs(seq_len=9)
    rng = np.random.RandomState(1)
    target = rng.randint(2, DEC_VOCAB, (3, 6)).astype("int64")
    if with_labels:  # decoder inputs and mask derived from the labels
        target[2, 3:] = -100
        return {**inputs, "labels": target}
    mask = np.ones((3, 6), dtype="int64")
    mask[1, 4:] = 0
    return {**inputs, "decoder_input_ids": target, "decoder_attention_mask": mask}


def _pair_parity(name, pair):
    """Every output, with padded decoder inputs and with labels (shifted decoder inputs, loss)."""
    _, model, reference = pair(name)
    flags = dict(output_hidden_states=True, output_attentions=True)
    diffs = {}
    for with_labels in (False, True):
        inputs = seq2seq_inputs(with_labels)
        with torch.no_grad():
            expected = reference(**{k: torch.as_tensor(v) for k, v in inputs.items()}, **flags)
        expected = {k: _to_numpy(v) for k, v in expected.items() if v is not None}
        ours = {k: _to_numpy(v) for k, v in model(inputs, **flags).items()}
        suffix = "+labels" if with_labels else ""
        diffs.update({k + suffix: v for k, v in compare_outputs(ours, expected).items()})
    assert "cross_attentions" in diffs and "loss+labels" in diffs
    return diffs


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_encoder_decoder_parity(name, pair):
    print(name, _pair_parity(name, pair))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW_PAIRS))
def test_encoder_decoder_parity_more_pairs(name, pair):
    print(name, _pair_parity(name, pair))


@pytest.mark.parametrize("name,beams,jit", [
    ("bert2gpt2", 1, False), ("bert2gpt2", 3, False),
    pytest.param("bert2bert", 1, False, marks=pytest.mark.slow),
    pytest.param("bert2bert", 3, False, marks=pytest.mark.slow),
    pytest.param("bert2gpt2", 3, True, marks=pytest.mark.slow),
    pytest.param("bert2bert", 1, True, marks=pytest.mark.slow),
])
def test_encoder_decoder_generate_token_identical(name, beams, jit, pair):
    """The encoder once, cross keys/values once, cached decoder steps: the reference's tokens (it runs
    without its cache). `jit_compile=False` runs the same loop without XLA (the XLA runs are slow tests)."""
    path, model, _ = pair(name)
    inputs = random_inputs(seq_len=9)
    ours = model.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], max_new_tokens=8,
                          num_beams=beams, jit_compile=jit).numpy()
    reference = reference_generate("EncoderDecoderModel", path, inputs, max_new_tokens=8, num_beams=beams)
    np.testing.assert_array_equal(ours, reference)
    assert len({tuple(row) for row in ours[:, 1:].tolist()}) > 1  # rows differ: the source matters
    assert len(set(ours[0, 1:].tolist())) > 1  # not one repeated token


def test_encoder_decoder_save_round_trip(pair, tmp_path):
    _, model, _ = pair("bert2gpt2")
    diffs = assert_save_round_trip("EncoderDecoderModel", None, seq2seq_inputs(True), tmp_path / "saved",
                                   tfmodels_class=_Loaded(model))
    assert "loss" in diffs
    reloaded = tfmodels.EncoderDecoderModel.from_pretrained(tmp_path / "saved")
    assert reloaded.enc_to_dec_proj is not None and reloaded.config["decoder_start_token_id"] == 5


def test_from_encoder_decoder_pretrained(checkpoints, tmp_path, caplog):
    """Two separate checkpoints -> one model whose encoder and decoder weights are theirs, the decoder's new
    cross-attention layers reported; `transformers.EncoderDecoderModel` loads what it saves."""
    encoder_path = checkpoints("bert-encoder", lambda d: hf_checkpoint("BertModel", bert_config(), d))
    decoder_path = checkpoints("gpt2-plain", lambda d: hf_checkpoint("GPT2LMHeadModel", gpt2_config(), d))
    with caplog.at_level("WARNING", logger="tfmodels"):
        model = tfmodels.EncoderDecoderModel.from_encoder_decoder_pretrained(
            encoder_path, decoder_path, decoder_start_token_id=5, pad_token_id=0)
    assert "crossattention" in caplog.text
    assert model.decoder.backbone.has_cross_attention and model.enc_to_dec_proj is not None
    inputs = seq2seq_inputs(True)
    encoder_reference = torch_outputs("BertModel", encoder_path, {k: inputs[k] for k in ("input_ids", "attention_mask")})
    ours = model(inputs)
    compare_outputs({"last_hidden_state": ours["encoder_last_hidden_state"].numpy()},
                    {"last_hidden_state": encoder_reference["last_hidden_state"]})
    diffs = assert_save_round_trip("EncoderDecoderModel", None, inputs, tmp_path / "saved",
                                   tfmodels_class=_Loaded(model))
    assert "loss" in diffs


class _Loaded:
    """`assert_save_round_trip`'s `tfmodels_class` for a model already built."""

    def __init__(self, model):
        self.model = model

    def from_pretrained(self, path):
        return self.model


def test_errors(checkpoints):
    with pytest.raises(ValueError, match="is_decoder=True"):
        tfmodels.BertModel(**{**bert_config().to_dict(), "add_cross_attention": True})
    model = tfmodels.BertModel.from_config(bert_config(is_decoder=True).to_dict())
    with pytest.raises(ValueError, match="add_cross_attention=True"):
        model(cross_inputs(32))
    gpt2 = tfmodels.GPT2LMHeadModel.from_config(gpt2_config().to_dict())
    with pytest.raises(ValueError, match="add_cross_attention=True"):
        gpt2(cross_inputs(24, vocab_size=DEC_VOCAB))
    with pytest.raises(ValueError, match="no cross-attention"):
        tfmodels.EncoderDecoderModel(encoder=bert_config().to_dict(), decoder=gpt2_config().to_dict(),
                                     decoder_start_token_id=5, pad_token_id=0)
    model = tfmodels.EncoderDecoderModel(encoder=bert_config().to_dict(), decoder=gpt2_config(**DECODER).to_dict(),
                                         decoder_start_token_id=5, pad_token_id=0)
    with pytest.raises(ValueError, match="decoder_input_ids"):
        model(random_inputs())
    with pytest.raises(NotImplementedError, match="model.decoder.resize_token_embeddings"):
        model.resize_token_embeddings(120)
    with pytest.raises(ValueError, match="cross_attention_hidden_size"):
        tfmodels.EncoderDecoderModel(encoder=bert_config().to_dict(),
                                     decoder=gpt2_config(cross_attention_hidden_size=32, **DECODER).to_dict())


def test_auto_classes_and_labels_as_y(pair, checkpoints):
    path, model, _ = pair("bert2gpt2")
    assert type(tfmodels.AutoModelForSeq2SeqLM.from_pretrained(path)) is tfmodels.EncoderDecoderModel
    generation = checkpoints("BertGenerationDecoder", lambda d: hf_checkpoint(
        "BertGenerationDecoder", CROSS_CLASSES["BertGenerationDecoder"][0](), d))
    assert type(tfmodels.AutoModel.from_pretrained(generation)) is tfmodels.BertGenerationEncoder
    assert type(tfmodels.AutoModelForCausalLM.from_pretrained(generation)) is tfmodels.BertGenerationDecoder
    # fit() with `labels` as `y`: the shifted decoder inputs and their padding mask, as with labels in the inputs.
    inputs = seq2seq_inputs(True)
    labels = inputs.pop("labels")
    x = model._with_decoder_inputs((inputs, labels))[0]
    np.testing.assert_array_equal(x["decoder_attention_mask"], (np.asarray(x["decoder_input_ids"]) != 0).astype("int32"))
    np.testing.assert_array_equal(model(x)["logits"].numpy(), model({**inputs, "labels": labels})["logits"].numpy())
