"""LXMERT against `transformers` PyTorch on tiny random configs (padded text and padded objects)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import transformers

import tfmodels
from tests.helpers import (
    _to_numpy,
    compare_outputs,
    hf_checkpoint,
    max_abs_diff,
    random_inputs,
)
from tfmodels.models.lxmert.modeling import OBJ_OUTPUTS

CLASSES = ("LxmertModel", "LxmertForPreTraining", "LxmertForQuestionAnswering")
NUM_OBJECTS = 5


def tiny_config(**overrides):
    fields = dict(vocab_size=99, hidden_size=32, num_attention_heads=4, intermediate_size=37, l_layers=2,
                  r_layers=3, x_layers=2, visual_feat_dim=13, visual_pos_dim=4, num_qa_labels=7,
                  num_object_labels=11, num_attr_labels=5, max_position_embeddings=64, type_vocab_size=3,
                  hidden_act="gelu")
    fields.update(overrides)
    return transformers.LxmertConfig(**fields)


def lxmert_inputs(seed=0, visual_mask=True):
    inputs = random_inputs(type_vocab_size=3, seed=seed)
    rng = np.random.RandomState(seed + 1)
    batch = inputs["input_ids"].shape[0]
    inputs["visual_feats"] = rng.randn(batch, NUM_OBJECTS, 13).astype("float32")
    inputs["visual_pos"] = rng.rand(batch, NUM_OBJECTS, 4).astype("float32")
    if visual_mask:
        mask = np.ones((batch, NUM_OBJECTS), dtype="int64")
        mask[1, 3:] = 0
        mask[2, 4:] = 0
        inputs["visual_attention_mask"] = mask
    return inputs


def pretraining_labels(seed=0):
    rng = np.random.RandomState(seed + 2)
    batch = 3
    labels = rng.randint(0, 99, (batch, 9)).astype("int64")
    labels[:, ::2] = -100
    obj = rng.randint(0, 11, (batch, NUM_OBJECTS)).astype("int64")
    obj[0, 1] = -100
    def confidence():
        return rng.rand(batch, NUM_OBJECTS).astype("float32")

    obj_labels = {
        "obj": (obj, confidence()),
        "attr": (rng.randint(0, 5, (batch, NUM_OBJECTS)).astype("int64"), confidence()),
        "feat": (rng.randn(batch, NUM_OBJECTS, 13).astype("float32"), confidence()),
    }
    return {"labels": labels, "obj_labels": obj_labels, "matched_label": np.array([1, 0, 1]),
            "ans": np.array([3, 6, 0])}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """One `LxmertForPreTraining` checkpoint (it holds every head) serves all classes, on both sides."""
    path = hf_checkpoint("LxmertForPreTraining", tiny_config(), tmp_path_factory.mktemp("lxmert"))
    return dict.fromkeys(CLASSES, path)


@pytest.fixture(scope="module")
def models(checkpoints):
    """Our models loaded once per module (tests that train load their own)."""
    return {name: getattr(tfmodels, name).from_pretrained(path) for name, path in checkpoints.items()}


def _torch_model(class_name, path):
    return getattr(transformers, class_name).from_pretrained(path, attn_implementation="eager").eval()


def _torch_inputs(inputs):
    import torch

    def convert(value):
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, tuple):
            return tuple(convert(v) for v in value)
        return torch.as_tensor(value)

    return {k: convert(v) for k, v in inputs.items()}


def _obj_head_reference(class_name, path, inputs):
    """The reference's object-head predictions on its own vision output (what its visual losses read)."""
    import torch

    model = _torch_model(class_name, path)
    with torch.no_grad():
        vision = model.lxmert(**_torch_inputs(inputs)).vision_output
        return {OBJ_OUTPUTS[k]: v.numpy() for k, v in model.obj_predict_head(vision).items()}


def _parity(class_name, path, model, inputs):
    """Every output, hidden states and attentions included; the object-head outputs (ours only) against
    the reference's object head on its vision output."""
    options = dict(output_hidden_states=True, output_attentions=True)
    reference = _to_numpy(_torch_model(class_name, path)(**_torch_inputs(inputs), **options))
    reference = {k: v for k, v in reference.items() if not (isinstance(v, tuple) and not v)}
    ours = {k: _to_numpy(v) for k, v in model(inputs, **options).items()}
    skip = tuple(k for k in OBJ_OUTPUTS.values() if k in ours)
    diffs = compare_outputs(ours, reference, skip=skip)
    if skip:
        diffs.update(compare_outputs({k: ours[k] for k in skip}, _obj_head_reference(class_name, path, inputs)))
    return diffs


@pytest.mark.parametrize("class_name", CLASSES)
def test_parity(class_name, checkpoints, models):
    diffs = _parity(class_name, checkpoints[class_name], models[class_name], lxmert_inputs())
    print(class_name, max(diffs.values()), diffs)


@pytest.mark.slow
def test_parity_without_visual_mask(checkpoints, models):
    print(_parity("LxmertModel", checkpoints["LxmertModel"], models["LxmertModel"], lxmert_inputs(3, False)))


def test_pretraining_losses(checkpoints, models):
    """Every loss term, alone and together, equals the reference's `loss`."""
    import torch

    path = checkpoints["LxmertForPreTraining"]
    inputs, labels = lxmert_inputs(), pretraining_labels()
    reference_model = _torch_model("LxmertForPreTraining", path)
    ours = models["LxmertForPreTraining"]
    for subset in (("labels",), ("matched_label",), ("obj_labels",), ("ans",), tuple(labels)):
        batch = {**inputs, **{k: labels[k] for k in subset}}
        with torch.no_grad():
            expected = reference_model(**_torch_inputs(batch)).loss.item()
        got = float(ours(batch)["loss"])
        assert abs(got - expected) <= 1e-5 * max(1.0, abs(expected)), (subset, got, expected)


def test_question_answering_loss(checkpoints, models):
    import torch

    path = checkpoints["LxmertForQuestionAnswering"]
    batch = {**lxmert_inputs(), "labels": np.array([3, 6, 0])}
    with torch.no_grad():
        expected = _torch_model("LxmertForQuestionAnswering", path)(**_torch_inputs(batch)).loss.item()
    got = float(models["LxmertForQuestionAnswering"](batch)["loss"])
    assert abs(got - expected) <= 1e-5


@pytest.mark.slow
def test_pretraining_without_qa_and_some_visual_losses(tmp_path):
    config = tiny_config(task_qa=False, visual_attr_loss=False, visual_feat_loss=False)
    path = hf_checkpoint("LxmertForPreTraining", config, tmp_path)
    inputs = lxmert_inputs()
    labels = pretraining_labels()
    batch = {**inputs, "obj_labels": {"obj": labels["obj_labels"]["obj"]}, "labels": labels["labels"]}
    import torch

    with torch.no_grad():
        expected = _torch_model("LxmertForPreTraining", path)(**_torch_inputs(batch))
    ours = tfmodels.LxmertForPreTraining.from_pretrained(path)(batch)
    assert sorted(k for k in ours if k not in OBJ_OUTPUTS.values()) == sorted(
        k for k, v in expected.items() if v is not None)
    for key in ("prediction_logits", "cross_relationship_score", "question_answering_score", "loss"):
        assert max_abs_diff(_to_numpy(ours[key]), _to_numpy(expected[key])) <= 1e-5, key
    assert "attr_prediction_logits" not in ours and "obj_prediction_logits" in ours


@pytest.mark.parametrize("class_name", CLASSES)
def test_save_pretrained_round_trip(class_name, models, tmp_path):
    """Ours -> `save_pretrained` -> `transformers` loads it and gives our outputs."""
    import torch

    inputs = lxmert_inputs()
    model = models[class_name]
    model.save_pretrained(tmp_path)
    ours = {k: _to_numpy(v) for k, v in model(inputs).items() if k not in OBJ_OUTPUTS.values()}
    reference = _torch_model(class_name, str(tmp_path))
    with torch.no_grad():
        expected = {k: _to_numpy(v) for k, v in reference(**_torch_inputs(inputs)).items() if v is not None}
    compare_outputs(ours, expected)
    if class_name == "LxmertForPreTraining":
        ours_obj = {k: np.asarray(v) for k, v in model(inputs).items() if k in OBJ_OUTPUTS.values()}
        compare_outputs(ours_obj, _obj_head_reference(class_name, str(tmp_path), inputs))


def _assert_xla_matches_eager(model):
    inputs = {k: tf.constant(v) for k, v in lxmert_inputs().items()}
    eager = model(inputs, output_attentions=True, output_hidden_states=True)
    compiled = tf.function(lambda x: model(x, output_attentions=True, output_hidden_states=True), jit_compile=True)
    diffs = compare_outputs({k: _to_numpy(v) for k, v in compiled(inputs).items()},
                            {k: _to_numpy(v) for k, v in eager.items()})
    assert max(diffs.values()) <= 1e-5


def test_xla_matches_eager_one_layer_each():
    """Every head and stream output compiled with XLA equals eager (one layer per encoder keeps the compile short)."""
    config = tiny_config(l_layers=1, r_layers=1, x_layers=1).to_dict()
    _assert_xla_matches_eager(tfmodels.LxmertForPreTraining.from_config(config).build_from_dummy_inputs())


@pytest.mark.slow
@pytest.mark.parametrize("class_name", ["LxmertForQuestionAnswering", "LxmertForPreTraining"])
def test_xla_matches_eager(class_name, models):
    _assert_xla_matches_eager(models[class_name])


@pytest.mark.parametrize("class_name", ["LxmertForPreTraining", pytest.param("LxmertForQuestionAnswering",
                                                                          marks=pytest.mark.slow)])
def test_fit_step(class_name, checkpoints):
    model = getattr(tfmodels, class_name).from_pretrained(checkpoints[class_name])
    inputs = lxmert_inputs()
    labels = pretraining_labels()
    batch = {**inputs, **labels} if class_name == "LxmertForPreTraining" else {**inputs, "labels": labels["ans"]}
    before = float(model(batch)["loss"])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)  # no graph tracing (slow on CPU)
    history = model.fit(batch, batch_size=3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert float(model(batch)["loss"]) < before


def test_bad_visual_inputs(models):
    model = models["LxmertModel"]
    inputs = lxmert_inputs()
    with pytest.raises(ValueError, match="needs `visual_feats`"):
        model({k: v for k, v in inputs.items() if k != "visual_feats"})
    with pytest.raises(ValueError, match=r"visual_pos` of shape \(batch, objects, 4\)"):
        model({**inputs, "visual_pos": inputs["visual_pos"][..., :3]})
    with pytest.raises(TypeError, match="visual_feats"):
        model({**inputs, "visual_feats": inputs["visual_feats"].astype("int32")})
    with pytest.raises(ValueError, match="obj_labels"):
        models["LxmertForPreTraining"](
            {**inputs, "obj_labels": {"obj": pretraining_labels()["obj_labels"]["obj"]}})


@pytest.mark.slow
def test_auto_and_config_round_trip(checkpoints, models):
    assert type(tfmodels.AutoModel.from_pretrained(checkpoints["LxmertModel"])) is tfmodels.LxmertModel
    model = models["LxmertForQuestionAnswering"]
    clone = tfmodels.LxmertForQuestionAnswering.from_config(model.get_config())
    assert clone.backbone.config["x_layers"] == 2


@pytest.mark.slow
def test_saved_model_takes_any_number_of_objects(models, tmp_path):
    """The serving signature has dynamic batch, text and object axes (the dummy inputs have 2 objects)."""
    model = models["LxmertForQuestionAnswering"]
    tfmodels.export_saved_model(model, str(tmp_path / "saved"))
    serve = tf.saved_model.load(str(tmp_path / "saved")).signatures["serving_default"]
    inputs = lxmert_inputs()
    inputs.setdefault("token_type_ids", np.zeros_like(inputs["input_ids"]))
    served = serve(**{k: tf.constant(v, tf.float32 if v.dtype.kind == "f" else tf.int32) for k, v in inputs.items()})
    compare_outputs({"question_answering_score": served["question_answering_score"].numpy()},
                    {"question_answering_score": _to_numpy(model(inputs)["question_answering_score"])})


@pytest.mark.slow
def test_untied_lm_head(tmp_path):
    """`tie_word_embeddings=False`: the decoder is the checkpoint's own `cls.predictions.decoder.weight`."""
    path = hf_checkpoint("LxmertForPreTraining", tiny_config(tie_word_embeddings=False), tmp_path / "hf")
    model = tfmodels.LxmertForPreTraining.from_pretrained(path)
    assert model.lm_head.decoder is not None
    print(_parity("LxmertForPreTraining", path, model, lxmert_inputs()))
    model.save_pretrained(tmp_path / "ours")
    again = _torch_model("LxmertForPreTraining", str(tmp_path / "ours"))
    import torch

    with torch.no_grad():
        expected = again(**_torch_inputs(lxmert_inputs())).prediction_logits.numpy()
    compare_outputs({"prediction_logits": _to_numpy(model(lxmert_inputs())["prediction_logits"])},
                    {"prediction_logits": expected})
