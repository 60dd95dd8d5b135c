"""get/set_input_embeddings and resize_token_embeddings against transformers' on the same checkpoint."""

import numpy as np
import pytest
import torch
import transformers

import tfmodels
from tests.helpers import compare_outputs, hf_checkpoint, random_inputs
from tests.test_bert_parity import tiny_bert_config
from tests.test_gpt2_parity import tiny_gpt2_config

CASES = {
    "BertForMaskedLM": lambda: tiny_bert_config(),
    "BertForMaskedLM-untied": lambda: tiny_bert_config(tie_word_embeddings=False),
    "GPT2LMHeadModel": lambda: tiny_gpt2_config(),
}


def _checkpoint(case, directory):
    class_name = case.split("-")[0]
    if "untied" not in case:
        return hf_checkpoint(class_name, CASES[case](), directory)
    # Untied BERT keeps two bias tensors (`cls.predictions.bias`, `cls.predictions.decoder.bias`); tfmodels loads
    # one and checks the other equals it, so both get the same random values here.
    torch.manual_seed(0)
    model = transformers.BertForMaskedLM(CASES[case]()).eval()
    with torch.no_grad():
        model.cls.predictions.decoder.bias.normal_(0.0, 0.1)
        model.cls.predictions.bias.copy_(model.cls.predictions.decoder.bias)
    model.save_pretrained(str(directory))
    return str(directory)


def _reference(class_name, path, new_num_tokens):
    model = getattr(transformers, class_name).from_pretrained(path).eval()
    model.resize_token_embeddings(new_num_tokens)  # mean_resizing=True, transformers' default
    return model


def _torch_logits(model, inputs):
    with torch.no_grad():
        return model(**{k: torch.tensor(np.asarray(v), dtype=torch.long) for k, v in inputs.items()}).logits.numpy()


@pytest.mark.parametrize("new_num_tokens", [123, 80])
@pytest.mark.parametrize("case", sorted(CASES))
def test_resize_matches_transformers(case, new_num_tokens, tmp_path):
    class_name = case.split("-")[0]
    path = _checkpoint(case, tmp_path / "hf")
    reference = _reference(class_name, path, new_num_tokens)
    ours = getattr(tfmodels, class_name).from_pretrained(path)
    old = ours.get_input_embeddings().embeddings.numpy().copy()
    assert ours.resize_token_embeddings(new_num_tokens, seed=0) is ours.get_input_embeddings()
    keep = min(99, new_num_tokens)

    ref_matrix = reference.get_input_embeddings().weight.detach().numpy()
    matrix = ours.get_input_embeddings().embeddings.numpy()
    assert matrix.shape == ref_matrix.shape == (new_num_tokens, old.shape[1])
    np.testing.assert_array_equal(matrix[:keep], old[:keep])
    np.testing.assert_array_equal(matrix[:keep], ref_matrix[:keep])
    assert np.abs(matrix - ref_matrix).max() <= 1e-5  # added rows: both ~ the old rows' mean
    assert ours.config.vocab_size == reference.config.vocab_size == new_num_tokens
    if class_name == "BertForMaskedLM":
        ref_bias = reference.cls.predictions.decoder.bias.detach().numpy()
        bias = ours.lm_head.bias.numpy()
        assert bias.shape == ref_bias.shape == (new_num_tokens,)
        np.testing.assert_array_equal(bias[:keep], ref_bias[:keep])
        assert np.abs(bias - ref_bias).max() <= 1e-5
        if "untied" in case:
            ref_decoder = reference.cls.predictions.decoder.weight.detach().numpy().T  # (hidden, vocab)
            assert ours.lm_head.decoder.shape == ref_decoder.shape
            assert np.abs(ours.lm_head.decoder.numpy() - ref_decoder).max() <= 1e-5

    inputs = random_inputs(vocab_size=keep, type_vocab_size=0)  # old tokens only, with padding
    if class_name == "GPT2LMHeadModel":
        inputs.pop("token_type_ids", None)
    expected = _torch_logits(reference, inputs)
    logits = ours(inputs)["logits"].numpy()
    assert logits.shape == expected.shape
    # Old-token logits are deterministic: exact parity. Added-token logits depend on each side's random draw
    # (N(mean, 1e-9 * cov), torch's vs NumPy's generator); the rows agree to 1e-5 (above), and the reload below
    # checks every logit, added tokens included, against transformers running on our resized weights.
    assert np.abs(logits[..., :keep] - expected[..., :keep]).max() <= 1e-5

    if "untied" in case:
        return  # tfmodels' BERT table writes no `cls.predictions.decoder.bias` for untied heads (a known gap)
    ours.save_pretrained(tmp_path / "ours")  # the new vocabulary size reaches config.json
    reloaded = getattr(transformers, class_name).from_pretrained(str(tmp_path / "ours")).eval()
    compare_outputs({"logits": logits}, {"logits": _torch_logits(reloaded, inputs)})


def test_pad_to_multiple_of_no_op_and_traced_functions():
    model = tfmodels.GPT2LMHeadModel.from_config(tiny_gpt2_config().to_dict())
    ids = np.array([[5, 1, 2]], dtype="int32")
    model.predict(ids, verbose=0)
    model.generate(ids, max_new_tokens=2)  # traced (XLA) loops and predict_function see the old variables
    layer = model.resize_token_embeddings()
    assert layer.input_dim == 99
    model.resize_token_embeddings(100, pad_to_multiple_of=64)
    assert model.get_input_embeddings().embeddings.shape == (128, 32) and model.config.vocab_size == 128
    ids = np.array([[127, 1, 2]], dtype="int32")
    assert model(ids)["logits"].shape == (1, 3, 128)
    assert model.predict(ids, verbose=0)["logits"].shape == (1, 3, 128)
    np.testing.assert_array_equal(model.generate(ids, max_new_tokens=2, jit_compile=False),
                                  model.generate(ids, max_new_tokens=2))


def test_set_input_embeddings():
    model = tfmodels.BertModel.from_config(tiny_bert_config().to_dict())
    matrix = np.random.default_rng(0).normal(size=(50, 32)).astype("float32")
    model.set_input_embeddings(matrix)
    np.testing.assert_array_equal(model.get_input_embeddings().embeddings.numpy(), matrix)
    assert model.config.vocab_size == 50
    with pytest.raises(ValueError, match=r"\(vocab_size, 32\)"):
        model.set_input_embeddings(np.zeros((50, 31)))


def test_bad_sizes_are_refused():
    model = tfmodels.BertForMaskedLM.from_config(tiny_bert_config().to_dict())
    with pytest.raises(ValueError, match="new_num_tokens"):
        model.resize_token_embeddings(0)
    with pytest.raises(ValueError, match="pad_to_multiple_of"):
        model.resize_token_embeddings(100, pad_to_multiple_of=1.5)


def test_unknown_vocabulary_variable_is_refused():
    config = transformers.MobileBertConfig(vocab_size=99, hidden_size=32, embedding_size=16, num_hidden_layers=1,
                                           num_attention_heads=4, intermediate_size=37, intra_bottleneck_size=16,
                                           true_hidden_size=16, max_position_embeddings=64)
    model = tfmodels.MobileBertForMaskedLM.from_config(config.to_dict())
    with pytest.raises(NotImplementedError, match="MobileBertForMaskedLM"):
        model.resize_token_embeddings(120)
