"""T5 task heads against `transformers` PyTorch: every output (loss included) within 1e-5, with hidden
states and attentions, on the tiny odd config of `tests/test_t5_parity.py` (gated-gelu, unequal
encoder/decoder depths) and padded inputs whose rows end their text with eos at different positions.
"""

import numpy as np
import pytest

import tfmodels
from tests.helpers import compare_outputs, hf_checkpoint, torch_outputs
from tests.test_t5_parity import VOCAB, t5_config

EOS = 1


def head_inputs(seed=0):
    rng = np.random.RandomState(seed)
    input_ids = rng.randint(2, VOCAB, (3, 9)).astype("int64")
    attention_mask = np.ones_like(input_ids)
    attention_mask[1, 6:] = 0  # right padding after the eos at 5
    input_ids[0, 8], input_ids[1, 5], input_ids[2, 7] = EOS, EOS, EOS
    input_ids[1, 6:] = 0
    return dict(input_ids=input_ids, attention_mask=attention_mask)


LABELS = {
    "T5ForSequenceClassification": lambda rng: dict(labels=rng.randint(0, 3, (3,))),
    "T5ForTokenClassification": lambda rng: dict(
        labels=np.where(rng.rand(3, 9) < 0.2, -100, rng.randint(0, 3, (3, 9)))),
    "T5ForQuestionAnswering": lambda rng: dict(start_positions=np.array([1, 4, 12]), end_positions=np.array([3, 5, 6])),
}


@pytest.fixture(scope="module", params=sorted(LABELS))
def checkpoint(request, tmp_path_factory):
    config = t5_config("gated-gelu", True)
    config.num_labels = 2 if request.param == "T5ForQuestionAnswering" else 3
    return request.param, hf_checkpoint(request.param, config, tmp_path_factory.mktemp(request.param))


def test_head_matches_transformers(checkpoint):
    class_name, path = checkpoint
    inputs = {**head_inputs(), **LABELS[class_name](np.random.RandomState(1))}
    flags = dict(output_hidden_states=True, output_attentions=True)
    reference = torch_outputs(class_name, path, inputs, use_cache=False, **flags) if class_name != \
        "T5ForTokenClassification" else torch_outputs(class_name, path, inputs, **flags)
    model = getattr(tfmodels, class_name).from_pretrained(path)
    diffs = compare_outputs(model(inputs, training=False, **flags), reference)
    assert "loss" in diffs and max(diffs.values()) <= 1e-5, diffs


def test_auto_classes_pick_the_heads(checkpoint):
    class_name, path = checkpoint
    auto = {"T5ForSequenceClassification": tfmodels.AutoModelForSequenceClassification,
            "T5ForTokenClassification": tfmodels.AutoModelForTokenClassification,
            "T5ForQuestionAnswering": tfmodels.AutoModelForQuestionAnswering}[class_name]
    assert type(auto.from_pretrained(path)).__name__ == class_name


def test_sequence_classification_refuses_unequal_eos_counts(tmp_path):
    path = hf_checkpoint("T5ForSequenceClassification", t5_config("gated-gelu", True), tmp_path)
    inputs = head_inputs()
    inputs["input_ids"][0, 2] = EOS
    with pytest.raises(ValueError, match="same number"):
        tfmodels.T5ForSequenceClassification.from_pretrained(path)(inputs)


@pytest.mark.parametrize("form", ["tuple", "mapping", "tensor"])
def test_encoder_outputs_input_matches_transformers(form, tmp_path):
    """A precomputed encoder output (no `input_ids`) gives the reference's logits and loss."""
    import torch
    import transformers

    from tests.test_t5_parity import seq2seq_inputs

    path = hf_checkpoint("T5ForConditionalGeneration", t5_config("gated-gelu", True), tmp_path)
    inputs = seq2seq_inputs(3)
    reference = transformers.T5ForConditionalGeneration.from_pretrained(path).eval()
    with torch.no_grad():
        hidden = reference.encoder(input_ids=torch.as_tensor(inputs["input_ids"]),
                                   attention_mask=torch.as_tensor(inputs["attention_mask"])).last_hidden_state
        expected = reference(encoder_outputs=(hidden,), use_cache=False,
                             **{k: torch.as_tensor(v) for k, v in inputs.items() if k != "input_ids"})
    given = {"tuple": (hidden.numpy(),), "mapping": {"last_hidden_state": hidden.numpy()}, "tensor": hidden.numpy()}
    model = tfmodels.T5ForConditionalGeneration.from_pretrained(path)
    ours = model({k: v for k, v in inputs.items() if k != "input_ids"}, encoder_outputs=given[form], training=False)
    for key in ("logits", "loss", "encoder_last_hidden_state"):
        assert np.abs(np.asarray(ours[key]) - getattr(expected, key).numpy()).max() <= 1e-5, key
