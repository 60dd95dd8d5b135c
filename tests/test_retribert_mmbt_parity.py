"""RetriBERT and MMBT against reference outputs of transformers 4.46.3 (they are gone from transformers 5).

The fixtures under tests/fixtures/{retribert,mmbt}/ come from
scripts/make_retribert_mmbt_fixtures.py; MMBT's image encoder is
`tests.mmbt_encoder.TinyImageEncoder`, the Keras twin of the script's PyTorch one.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import load_file

import tfmodels
from tests.helpers import TOLERANCE, _to_numpy, compare_outputs
from tests.mmbt_encoder import TinyImageEncoder

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
RETRIBERT_INPUTS = ("input_ids_query", "attention_mask_query", "input_ids_doc", "attention_mask_doc")
MMBT_CLASSES = ("MMBTModel", "MMBTForClassification")
MMBT_CASES = ("special", "plain")


def retribert(name):
    path = os.path.join(FIXTURES, "retribert", name)
    reference = np.load(os.path.join(path, "reference.npz"))
    return path, {k: reference[k] for k in RETRIBERT_INPUTS}, reference


def mmbt_case(class_name, case):
    """`(path, inputs, reference outputs)` of one recorded MMBT call; tuples rebuilt from `name.{i}` entries."""
    path = os.path.join(FIXTURES, "mmbt", class_name)
    arrays = np.load(os.path.join(path, "reference.npz"))
    inputs = {k.split(".", 2)[2]: arrays[k] for k in arrays.files if k.startswith(f"{case}.input.")}
    outputs, tuples = {}, {}
    for key in arrays.files:
        if key.startswith(f"{case}.output."):
            name, *index = key.split(".", 2)[2].split(".")
            if index:
                tuples.setdefault(name, {})[int(index[0])] = arrays[key]
            else:
                outputs[name] = arrays[key]
    outputs.update({name: tuple(parts[i] for i in sorted(parts)) for name, parts in tuples.items()})
    return path, inputs, outputs


@pytest.fixture(scope="module")
def retribert_models():
    return {name: tfmodels.RetriBertModel.from_pretrained(retribert(name)[0]) for name in ("shared", "separate")}


@pytest.fixture(scope="module")
def mmbt_models():
    return {name: getattr(tfmodels, name).from_pretrained(os.path.join(FIXTURES, "mmbt", name),
                                                          encoder=TinyImageEncoder(7))
            for name in MMBT_CLASSES}


@pytest.mark.parametrize("name", ["shared", "separate"])
def test_retribert_parity(name, retribert_models):
    path, inputs, reference = retribert(name)
    model = retribert_models[name]
    assert (model.bert_doc is None) == (name == "shared")
    diffs = compare_outputs({
        "loss": _to_numpy(model(inputs)["loss"]),
        "question_embeds": _to_numpy(model.embed_questions(inputs["input_ids_query"], inputs["attention_mask_query"])),
        "answer_embeds": _to_numpy(model.embed_answers(inputs["input_ids_doc"], inputs["attention_mask_doc"])),
    }, {k: reference[k] for k in ("loss", "question_embeds", "answer_embeds")})
    assert sorted(model(inputs)) == ["loss"]  # the reference's only output
    print("RetriBertModel", name, max(diffs.values()), diffs)


def test_retribert_save_round_trip_writes_the_reference_state_dict(tmp_path, retribert_models):
    path, inputs, reference = retribert("separate")
    model = retribert_models["separate"]
    model.save_pretrained(tmp_path)
    saved, original = load_file(tmp_path / "model.safetensors"), load_file(os.path.join(path, "model.safetensors"))
    assert sorted(saved) == sorted(original)
    assert max(np.abs(saved[k] - original[k]).max() for k in original) == 0
    again = tfmodels.RetriBertModel.from_pretrained(tmp_path)
    assert abs(float(again(inputs)["loss"]) - float(reference["loss"])) <= TOLERANCE


@pytest.mark.slow
def test_retribert_xla(retribert_models):
    _, inputs, reference = retribert("separate")
    model = retribert_models["separate"]
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    compiled = tf.function(lambda x: model(x)["loss"], jit_compile=True)
    assert abs(float(compiled(tensors)) - float(reference["loss"])) <= TOLERANCE


def test_retribert_fit_step():
    path, inputs, reference = retribert("shared")
    model = tfmodels.RetriBertModel.from_pretrained(path)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)
    history = model.fit(inputs, batch_size=3, epochs=1, verbose=0)
    assert abs(history.history["loss"][0] - float(reference["loss"])) <= TOLERANCE  # the loss of the first step
    assert float(model(inputs)["loss"]) < float(reference["loss"])


def test_retribert_bad_inputs(retribert_models):
    _, inputs, _ = retribert("shared")
    model = retribert_models["shared"]
    with pytest.raises(ValueError, match="input_ids_doc"):
        model({k: v for k, v in inputs.items() if not k.endswith("_doc")})
    with pytest.raises(ValueError, match="same size"):
        model({**inputs, "input_ids_doc": inputs["input_ids_doc"][:2], "attention_mask_doc": inputs[
            "attention_mask_doc"][:2]})


@pytest.mark.parametrize("class_name", MMBT_CLASSES)
@pytest.mark.parametrize("case", MMBT_CASES)
def test_mmbt_parity(class_name, case, mmbt_models):
    """Every output of the reference call (with special tokens and padded text, or plain), hidden states
    and attentions included; `loss` with labels."""
    _, inputs, reference = mmbt_case(class_name, case)
    ours = mmbt_models[class_name](inputs, output_hidden_states=True, output_attentions=True)
    diffs = compare_outputs({k: _to_numpy(v) for k, v in ours.items()}, reference)
    print(class_name, case, max(diffs.values()), diffs)


@pytest.mark.parametrize("class_name", MMBT_CLASSES)
def test_mmbt_save_round_trip_writes_the_reference_state_dict(class_name, mmbt_models, tmp_path):
    path, inputs, reference = mmbt_case(class_name, "special")
    model = mmbt_models[class_name]
    model.save_pretrained(tmp_path)
    saved, original = load_file(tmp_path / "model.safetensors"), load_file(os.path.join(path, "model.safetensors"))
    assert sorted(saved) == sorted(original)  # the encoder's conv included, through its `weight_rows()`
    assert max(np.abs(saved[k] - original[k]).max() for k in original) == 0
    again = getattr(tfmodels, class_name).from_pretrained(tmp_path, encoder=TinyImageEncoder(7))
    compare_outputs({k: _to_numpy(v) for k, v in again(inputs).items()},
                    {k: v for k, v in reference.items() if k not in ("hidden_states", "attentions")})


def test_mmbt_duplicated_shared_tables_are_checked(tmp_path, mmbt_models):
    """A state dict that lists the embedding tables `ModalEmbeddings` shares (as `torch.save` of the
    reference's `state_dict()` does) loads when they equal the BERT's, and fails when they differ."""
    from safetensors.numpy import save_file

    path, inputs, reference = mmbt_case("MMBTModel", "plain")
    state = load_file(os.path.join(path, "model.safetensors"))
    for name in ("word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight",
                 "LayerNorm.weight", "LayerNorm.bias"):
        state[f"modal_encoder.{name}"] = state[f"transformer.embeddings.{name}"]
    for file in ("config.json",):
        (tmp_path / file).write_bytes(open(os.path.join(path, file), "rb").read())
    save_file(state, str(tmp_path / "model.safetensors"))
    model = tfmodels.MMBTModel.from_pretrained(tmp_path, encoder=TinyImageEncoder(7))
    compare_outputs({"pooler_output": _to_numpy(model(inputs)["pooler_output"])},
                    {"pooler_output": reference["pooler_output"]})
    state["modal_encoder.LayerNorm.bias"] = state["modal_encoder.LayerNorm.bias"] + 1
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(Exception, match="modal_encoder.LayerNorm.bias"):
        tfmodels.MMBTModel.from_pretrained(tmp_path, encoder=TinyImageEncoder(7))


def test_mmbt_xla_and_fit_step():
    path, inputs, reference = mmbt_case("MMBTForClassification", "special")
    model = tfmodels.MMBTForClassification.from_pretrained(path, encoder=TinyImageEncoder(7))
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    compiled = tf.function(lambda x: model(x, output_hidden_states=True), jit_compile=True)(tensors)
    eager = model(tensors, output_hidden_states=True)
    assert max(compare_outputs({k: _to_numpy(v) for k, v in compiled.items()},
                               {k: _to_numpy(v) for k, v in eager.items()}).values()) <= TOLERANCE
    conv_before = np.array(model.mmbt.modal_encoder.conv.kernel)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)
    history = model.fit(inputs, batch_size=3, epochs=1, verbose=0)
    assert abs(history.history["loss"][0] - float(reference["loss"])) <= TOLERANCE
    assert float(model(inputs)["loss"]) < float(reference["loss"])
    assert np.abs(np.array(model.mmbt.modal_encoder.conv.kernel) - conv_before).max() > 0  # the encoder trains too


def test_mmbt_config_round_trip_and_errors(mmbt_models):
    model = mmbt_models["MMBTForClassification"]
    clone = tfmodels.MMBTForClassification.from_config(model.get_config())
    assert isinstance(clone.mmbt.modal_encoder, TinyImageEncoder) and clone.mmbt.modal_encoder is not \
        model.mmbt.modal_encoder
    assert "encoder" not in model.hf_config() and model.hf_config()["modal_hidden_size"] == 7
    with pytest.raises(ValueError, match="needs `encoder`"):
        tfmodels.MMBTModel.from_pretrained(os.path.join(FIXTURES, "mmbt", "MMBTModel"))
    _, inputs, _ = mmbt_case("MMBTModel", "special")
    with pytest.raises(ValueError, match="needs `input_modal`"):
        mmbt_models["MMBTModel"]({k: v for k, v in inputs.items() if k != "input_modal"})
    with pytest.raises(ValueError, match="modal_hidden_size=7"):
        tfmodels.MMBTModel.from_config({**mmbt_models["MMBTModel"].get_config(), "encoder": TinyImageEncoder(5)})(
            inputs)


def test_mmbt_encoder_without_weight_rows_keeps_its_weights():
    """An encoder that does not name its checkpoint keys keeps its own weights; the keys are reported unused."""

    class Bare(keras.layers.Layer):
        input_modal_shape = (3, 8, 8)

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = TinyImageEncoder(7)

        def call(self, pixels):
            return self.inner(pixels)

    encoder = Bare()
    encoder(np.zeros((1, 3, 8, 8), "float32"))
    before = [np.array(v) for v in encoder.weights]
    model, info = tfmodels.MMBTModel.from_pretrained(os.path.join(FIXTURES, "mmbt", "MMBTModel"), encoder=encoder,
                                                     output_loading_info=True)
    assert model.modal_encoder is encoder
    assert all(np.array_equal(a, np.array(v)) for a, v in zip(before, encoder.weights))
    assert sorted(info["unexpected_keys"]) == ["modal_encoder.encoder.conv.bias", "modal_encoder.encoder.conv.weight"]
