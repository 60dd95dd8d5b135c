"""Every XLM and FlauBERT class against `transformers` PyTorch, with padding, langs and token types."""

from pathlib import Path

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, assert_save_round_trip, compare_outputs, hf_checkpoint, random_inputs

HEADS = ["Model", "ForSequenceClassification", "ForTokenClassification", "ForQuestionAnsweringSimple",
         "WithLMHeadModel"]
CLASSES = [f"{prefix}{head}" for prefix in ("XLM", "Flaubert") for head in HEADS]


def tiny_config(class_name, **overrides):
    fields = dict(
        vocab_size=99, emb_dim=32, n_layers=2, n_heads=4, max_position_embeddings=64, n_langs=3,
        num_labels=2 if "QuestionAnswering" in class_name else 3, summary_activation="tanh",
    )
    fields.update(overrides)
    config_class = transformers.FlaubertConfig if class_name.startswith("Flaubert") else transformers.XLMConfig
    return config_class(**fields)


def xlm_inputs(batch_size=3, seed=0, pad_lengths=(5, 2)):
    inputs = random_inputs(batch_size=batch_size, type_vocab_size=3, seed=seed, pad_lengths=pad_lengths)
    inputs["langs"] = np.random.RandomState(seed + 5).randint(0, 3, inputs["input_ids"].shape).astype("int64")
    return inputs


@pytest.mark.parametrize("class_name", CLASSES)
def test_xlm_parity(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(class_name), tmp_path)
    diffs = assert_parity(class_name, path, xlm_inputs())
    print(class_name, diffs)


@pytest.mark.parametrize("prefix", ["XLM", "Flaubert"])
def test_xlm_multiple_choice_parity(prefix, tmp_path):
    class_name = f"{prefix}ForMultipleChoice"
    path = hf_checkpoint(class_name, tiny_config(class_name), tmp_path)
    flat = xlm_inputs(batch_size=4, pad_lengths=(5, 2, 7))
    diffs = assert_parity(class_name, path, {k: v.reshape(2, 2, -1) for k, v in flat.items()})
    print(class_name, diffs)


@pytest.mark.parametrize("options", [
    dict(sinusoidal_embeddings=True, gelu_activation=False, n_langs=1),
    dict(causal=True, use_lang_emb=False),
    dict(summary_type="mean", summary_use_proj=True, summary_proj_to_labels=False),
])
def test_xlm_config_options_parity(options, tmp_path):
    class_name = "XLMForSequenceClassification" if "summary_type" in options else "XLMModel"
    if options.get("summary_proj_to_labels") is False:
        class_name = "XLMModel"
    path = hf_checkpoint(class_name, tiny_config(class_name, **options), tmp_path)
    assert_parity(class_name, path, xlm_inputs())


def test_xlm_summary_mean_last(tmp_path):
    for summary_type in ("mean", "last"):
        path = hf_checkpoint("XLMForSequenceClassification",
                             tiny_config("XLM", summary_type=summary_type), tmp_path / summary_type)
        assert_parity("XLMForSequenceClassification", path, xlm_inputs())


def test_xlm_mask_from_pad_tokens(tmp_path):
    """Without attention_mask, `transformers` derives lengths from the non-pad tokens."""
    path = hf_checkpoint("XLMModel", tiny_config("XLM"), tmp_path)
    inputs = xlm_inputs()
    inputs["input_ids"][inputs["attention_mask"] == 0] = 2  # pad_token_id
    del inputs["attention_mask"]
    assert_parity("XLMModel", path, inputs)


FLAUBERT_PRE_NORM = Path(__file__).parent / "fixtures" / "flaubert_pre_norm"


@pytest.mark.parametrize("class_name", ["FlaubertModel", "FlaubertWithLMHeadModel"])
def test_flaubert_pre_norm_parity(class_name):
    """Against fixtures from `transformers` 4.46.3 (`scripts/make_flaubert_fixtures.py`): `transformers` 5
    cannot run FlauBERT's pre-norm path, and 4.46.3's does not return attention probabilities."""
    directory = FLAUBERT_PRE_NORM / class_name
    arrays = np.load(directory / "reference.npz")
    inputs = {k[len("input."):]: arrays[k] for k in arrays.files if k.startswith("input.")}
    reference = {k: arrays[k] for k in arrays.files if not k.startswith(("input.", "hidden_states."))}
    reference["hidden_states"] = tuple(arrays[f"hidden_states.{i}"] for i in range(3))
    model = getattr(tfmodels, class_name).from_pretrained(str(directory))
    ours = model(inputs, training=False, output_hidden_states=True)
    print(class_name, compare_outputs({k: np.asarray(v) if not isinstance(v, tuple) else tuple(np.asarray(t) for t in v)
                                       for k, v in ours.items()}, reference))
    config = model.hf_config()
    assert config["pre_norm"] and config["layerdrop"] == 0.2
    # LayerDrop is active in training only: the training pass runs.
    main = "logits" if "LMHead" in class_name else "last_hidden_state"
    assert model(inputs, training=True)[main].shape == reference[main].shape


@pytest.mark.parametrize("class_name", ["XLMWithLMHeadModel", "FlaubertForSequenceClassification"])
def test_xlm_save_round_trip(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(class_name), tmp_path / "hf")
    print(assert_save_round_trip(class_name, path, xlm_inputs(seed=1), tmp_path / "ours"))


def test_xlm_rejects_flaubert_options():
    with pytest.raises(ValueError, match="FlauBERT options"):
        tfmodels.XLMModel(emb_dim=32, n_heads=4, n_layers=1, pre_norm=True)


def test_auto_classes_pick_xlm_and_flaubert(tmp_path):
    for prefix, model_type in (("XLM", "xlm"), ("Flaubert", "flaubert")):
        path = hf_checkpoint(f"{prefix}WithLMHeadModel", tiny_config(prefix), tmp_path / prefix)
        assert type(tfmodels.AutoModel.from_pretrained(path)) is getattr(tfmodels, f"{prefix}Model")
        assert type(tfmodels.AutoModelForMaskedLM.from_pretrained(path)) is getattr(tfmodels, f"{prefix}WithLMHeadModel")
        for task, head in (("sequence-classification", "ForSequenceClassification"),
                           ("token-classification", "ForTokenClassification"),
                           ("question-answering", "ForQuestionAnsweringSimple"),
                           ("multiple-choice", "ForMultipleChoice"), ("causal-lm", "WithLMHeadModel")):
            assert tfmodels.auto.MODEL_REGISTRIES[task][model_type] is getattr(tfmodels, prefix + head)


@pytest.mark.parametrize("prefix", ["XLM", "Flaubert"])
def test_xlm_beam_question_answering_parity(prefix, tmp_path):
    """Beam outputs (top-k probabilities and indices, cls logits) with a p_mask and cls_index."""
    class_name = f"{prefix}ForQuestionAnswering"
    path = hf_checkpoint(class_name, tiny_config(class_name, start_n_top=3, end_n_top=2), tmp_path)
    inputs = xlm_inputs(pad_lengths=(6, 5))  # >= start_n_top open positions per row: no ties at probability 0
    p_mask = np.zeros(inputs["input_ids"].shape, "float32")
    p_mask[:, 0] = 1.0
    p_mask[inputs["attention_mask"] == 0] = 1.0
    inputs.update(p_mask=p_mask, cls_index=np.array([0, 1, 0]))
    diffs = assert_parity(class_name, path, inputs)
    assert {"start_top_index", "end_top_index", "cls_logits"} <= set(diffs)
    print(class_name, diffs)
    labels = dict(start_positions=np.array([1, 2, 0]), end_positions=np.array([3, 4, 1]),
                  is_impossible=np.array([0.0, 1.0, 0.0], "float32"))
    diffs = assert_parity(class_name, path, {**inputs, **labels}, hidden_and_attentions=False)
    assert set(diffs) == {"loss"}
    print(class_name, "with labels", diffs)


def test_xlm_lengths_input_parity(tmp_path):
    path = hf_checkpoint("XLMModel", tiny_config("XLM"), tmp_path)
    inputs = xlm_inputs()
    inputs["lengths"] = inputs.pop("attention_mask").sum(axis=1)
    assert_parity("XLMModel", path, inputs)
