"""wav2vec 2.0 against the PyTorch reference: every output of every class in the three layouts
(group-norm base, layer-norm with conv biases, stable layer norm), padded audio batches, the CTC
and contrastive losses, checkpoints written back (and the older weight-norm key names), the
feature extractor, Auto classes, XLA, a `fit()` step and real synthesised speech.

Tiny configs: hidden 36 in 3 heads, a two-layer feature encoder of odd widths (10, 14; kernels
5, 3; strides 3, 2), positional convolutions of odd (5) and even (4) width in 4 groups.
Three audio rows of 200 samples (32 frames); rows 1 and 2 right-padded to 150 and 90 samples.
"""

import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
import transformers

import tfmodels
from tests.helpers import (
    ESPEAK_MISSING,
    _to_numpy,
    assert_save_round_trip,
    compare_outputs,
    espeak,
    hf_checkpoint,
    synthesized_speech,
    torch_outputs,
)
from tfmodels.layers.losses import ctc_loss
from tfmodels.processors import Wav2Vec2FeatureExtractor, normalize_in_graph

BASE = dict(hidden_size=36, num_hidden_layers=2, num_attention_heads=3, intermediate_size=37,
            conv_dim=(10, 14), conv_stride=(3, 2), conv_kernel=(5, 3), num_conv_pos_embeddings=5,
            num_conv_pos_embedding_groups=4, vocab_size=11, codevector_dim=12, proj_codevector_dim=10,
            num_codevectors_per_group=7, num_codevector_groups=2, classifier_proj_size=9, num_labels=3)
VARIANTS = {
    "group": {},
    "layer": dict(feat_extract_norm="layer", conv_bias=True, ctc_loss_reduction="mean"),
    "stable": dict(feat_extract_norm="layer", do_stable_layer_norm=True, num_conv_pos_embeddings=4,
                   use_weighted_layer_sum=True, ctc_zero_infinity=True),
}
SAMPLES, FRAMES, LENGTHS = 200, 32, (200, 150, 90)
CASES = [
    ("Wav2Vec2Model", "group"), ("Wav2Vec2Model", "stable"), ("Wav2Vec2ForCTC", "layer"),
    ("Wav2Vec2ForSequenceClassification", "stable"), ("Wav2Vec2ForPreTraining", "group"),
    pytest.param("Wav2Vec2ForCTC", "stable", marks=pytest.mark.slow),
    pytest.param("Wav2Vec2ForSequenceClassification", "group", marks=pytest.mark.slow),
    pytest.param("Wav2Vec2ForPreTraining", "layer", marks=pytest.mark.slow),
]


def config(variant, **overrides):
    return transformers.Wav2Vec2Config(**{**BASE, **VARIANTS[variant], **overrides})


def audio(batch=3, samples=SAMPLES, lengths=LENGTHS, seed=0):
    """`input_values` right-padded with zeros and their `attention_mask` (int64)."""
    values = np.random.RandomState(seed).randn(batch, samples).astype("float32")
    mask = (np.arange(samples)[None, :] < np.array(lengths[:batch])[:, None]).astype("int64")
    return {"input_values": (values * mask).astype("float32"), "attention_mask": mask}


def pretraining_inputs(seed=0):
    from transformers.models.wav2vec2.modeling_wav2vec2 import _compute_mask_indices, _sample_negative_indices

    np.random.seed(seed)  # the reference's samplers use NumPy's global generator
    # Few masked frames: the losses are sums over them, and above 64 float32 cannot resolve 1e-5.
    masked = _compute_mask_indices((3, FRAMES), mask_prob=0.1, mask_length=2, min_masks=2)
    negatives = _sample_negative_indices((3, FRAMES), 4, masked)
    return {"mask_time_indices": masked, "sampled_negative_indices": negatives.astype("int64")}


def inputs_for(class_name, variant="group"):
    inputs = audio()
    if class_name == "Wav2Vec2ForCTC":
        # -100 padding; in the stable (zero_infinity) case row 2 (14 frames) cannot fit its 15 labels.
        long_row = [3] * 15 if variant == "stable" else [7, -100, -100, -100]
        width = max(4, len(long_row))
        rows = [[1, 2, 3, 4], [5, 5, 9], long_row]
        inputs["labels"] = np.array([r + [-100] * (width - len(r)) for r in rows])
    if class_name == "Wav2Vec2ForSequenceClassification":
        inputs["labels"] = np.array([0, 2, 1])
    if class_name == "Wav2Vec2ForPreTraining":
        inputs.update(pretraining_inputs())
    return inputs


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """One transformers checkpoint per (class, variant), made on first use."""
    made = {}

    def get(class_name, variant="group"):
        if (class_name, variant) not in made:
            directory = tmp_path_factory.mktemp(f"{class_name}_{variant}")
            made[class_name, variant] = hf_checkpoint(class_name, config(variant), directory)
        return made[class_name, variant]

    return get


def assert_class_parity(class_name, path, inputs):
    call = dict(output_hidden_states=True, output_attentions=True)
    reference = torch_outputs(class_name, path, inputs, **call)
    ours = getattr(tfmodels, class_name).from_pretrained(path)(inputs, training=False, **call)
    return compare_outputs(_to_numpy(ours), reference)


@pytest.mark.parametrize("class_name, variant", CASES)
def test_parity_every_output(class_name, variant, checkpoints):
    diffs = assert_class_parity(class_name, checkpoints(class_name, variant), inputs_for(class_name, variant))
    expected = {"Wav2Vec2Model": {"last_hidden_state", "extract_features", "hidden_states", "attentions"},
                "Wav2Vec2ForCTC": {"loss", "logits"}, "Wav2Vec2ForSequenceClassification": {"loss", "logits"},
                "Wav2Vec2ForPreTraining": {"loss", "contrastive_loss", "diversity_loss", "projected_states",
                                           "projected_quantized_states", "codevector_perplexity"}}[class_name]
    assert expected <= set(diffs)


def test_outputs_without_attention_mask(checkpoints):
    inputs = {"input_values": audio()["input_values"]}  # mean pooling over every frame
    assert_class_parity("Wav2Vec2ForSequenceClassification", checkpoints("Wav2Vec2ForSequenceClassification"), inputs)


@pytest.mark.slow
def test_pretraining_without_negatives_has_no_loss_and_round_trips(checkpoints, tmp_path):
    path = checkpoints("Wav2Vec2ForPreTraining")
    diffs = assert_class_parity("Wav2Vec2ForPreTraining", path, {"input_values": audio()["input_values"]})
    assert "loss" not in diffs and "codevector_perplexity" in diffs
    assert_save_round_trip("Wav2Vec2ForPreTraining", path, inputs_for("Wav2Vec2ForPreTraining"), tmp_path / "pt")


@pytest.mark.parametrize("reduction, zero_infinity, blank_id", [("sum", False, 0), ("mean", True, 0), ("sum", True, 4)])
def test_ctc_loss_matches_torch(reduction, zero_infinity, blank_id):
    import torch

    rng = np.random.RandomState(3)
    logits = rng.randn(4, 9, 6).astype("float32")
    labels = np.array([[1, 2, 2, -100], [3, 3, 3, 3], [5, 4, 1, -100], [2, blank_id, 1, 3]])
    lengths = np.array([9, 5, 7, 8])  # row 1 needs 7 frames: infeasible
    valid = (labels != -100) & (labels != blank_id)
    log_probs = torch.log_softmax(torch.tensor(logits), -1).transpose(0, 1)
    expected = torch.nn.functional.ctc_loss(
        log_probs, torch.tensor(labels)[torch.tensor(valid)], torch.tensor(lengths), torch.tensor(valid.sum(-1)),
        blank=blank_id, reduction=reduction, zero_infinity=zero_infinity).numpy()
    got = ctc_loss(labels, logits, lengths, blank_id=blank_id, reduction=reduction, zero_infinity=zero_infinity)
    if zero_infinity:
        assert abs(float(got) - float(expected)) <= 1e-5
    else:
        assert np.isinf(float(got)) and np.isinf(expected)


def test_save_pretrained_round_trips_and_old_weight_norm_keys_load(checkpoints, tmp_path):
    from safetensors.numpy import load_file, save_file

    path = checkpoints("Wav2Vec2ForCTC", "layer")
    inputs = inputs_for("Wav2Vec2ForCTC", "layer")
    assert_save_round_trip("Wav2Vec2ForCTC", path, inputs, tmp_path / "ctc")
    # `torch.nn.utils.weight_norm` checkpoints (transformers 4.x, most Hub repos) name the magnitude and
    # direction `weight_g` / `weight_v`.
    old = tmp_path / "old"
    shutil.copytree(path, old)
    weights = load_file(old / "model.safetensors")
    renamed = {k.replace("parametrizations.weight.original0", "weight_g")
                .replace("parametrizations.weight.original1", "weight_v"): v for k, v in weights.items()}
    assert renamed.keys() != weights.keys()
    save_file(renamed, old / "model.safetensors", metadata={"format": "pt"})
    new_logits = tfmodels.Wav2Vec2ForCTC.from_pretrained(path)(inputs)["logits"].numpy()
    old_logits = tfmodels.Wav2Vec2ForCTC.from_pretrained(old)(inputs)["logits"].numpy()
    np.testing.assert_array_equal(old_logits, new_logits)


def test_auto_classes_and_audio_classification_stays_out_of_text_classification(checkpoints):
    assert tfmodels.AutoModelForCTC.model_class("wav2vec2") is tfmodels.Wav2Vec2ForCTC
    assert tfmodels.AutoModelForAudioClassification.model_class("wav2vec2") is tfmodels.Wav2Vec2ForSequenceClassification
    assert tfmodels.AutoModel.model_class("wav2vec2") is tfmodels.Wav2Vec2Model
    with pytest.raises(tfmodels.UnknownModelTypeError, match="does not support model_type='wav2vec2'"):
        tfmodels.AutoModelForSequenceClassification.model_class("wav2vec2")
    assert "bert" not in tfmodels.AutoModelForAudioClassification._registry
    model = tfmodels.AutoModelForCTC.from_pretrained(checkpoints("Wav2Vec2ForCTC", "layer"))
    assert type(model) is tfmodels.Wav2Vec2ForCTC


@pytest.mark.parametrize("options", [
    dict(padding=True, return_attention_mask=True),
    dict(padding=True, return_attention_mask=False),  # the reference then normalises over the padding too
    dict(padding="max_length", max_length=300, pad_to_multiple_of=64, return_attention_mask=True),
    dict(padding="max_length", max_length=120, truncation=True, return_attention_mask=True),
])
def test_feature_extractor_matches_transformers(options):
    rng = np.random.RandomState(5)
    speech = [rng.randn(n) * 0.3 + 0.1 for n in (250, 131, 60)]  # float64, as read from lists or files
    reference = transformers.Wav2Vec2FeatureExtractor(return_attention_mask=False)
    ours = Wav2Vec2FeatureExtractor()
    expected = reference(speech, sampling_rate=16000, return_tensors="np", **options)
    got = ours(speech, sampling_rate=16000, **options)
    assert sorted(got) == sorted(k for k in expected if k in ("input_values", "attention_mask"))
    for key, value in got.items():
        assert value.dtype == expected[key].dtype
        np.testing.assert_array_equal(value, expected[key])


def test_in_graph_normalisation_equals_the_numpy_processor():
    rng = np.random.RandomState(6)
    speech = [rng.randn(n).astype("float32") * 0.3 + 0.1 for n in (4000, 3111, 1500)]
    extractor = Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=True)
    raw = extractor(speech, padding=True)
    expected = Wav2Vec2FeatureExtractor(return_attention_mask=True)(speech, padding=True)["input_values"]
    graph = tf.function(normalize_in_graph, jit_compile=True)
    got = graph(raw["input_values"], raw["attention_mask"]).numpy()
    assert np.max(np.abs(got - expected)) <= 1e-5  # measured 4.8e-7 (float32 sum vs NumPy's pairwise sum)
    np.testing.assert_array_equal(got[raw["attention_mask"] == 0], 0.0)



def test_spec_augment_masks_random_spans_in_training_only():
    from tfmodels.layers.audio import span_mask

    lengths = np.array([32, 20, 7])
    masks = span_mask(lengths, 32, mask_prob=0.4, mask_length=3, min_masks=1, seed=0).numpy()
    for row, length in zip(masks, lengths):
        assert not row[length:].any()  # padded frames are never masked
        runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], row.astype(int), [0]]))).reshape(-1, 2)).ravel()
        assert len(runs) >= 1 and (runs >= 3).all()  # whole spans of mask_length (overlaps merge)
        assert row.sum() <= 3 * (int(0.4 * length / 3) + 1)
    config = {**BASE, "mask_time_prob": 0.5, "mask_time_length": 3, "mask_feature_prob": 0.3,
              "mask_feature_length": 4, "hidden_dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0,
              "layerdrop": 0.0}
    model = tfmodels.Wav2Vec2Model(**config)
    inputs = audio()
    eval_a = model(inputs, training=False)["last_hidden_state"].numpy()
    eval_b = model(inputs, training=False)["last_hidden_state"].numpy()
    train = model(inputs, training=True)["last_hidden_state"].numpy()
    np.testing.assert_array_equal(eval_a, eval_b)
    assert np.abs(train - eval_a).max() > 1e-3


@pytest.mark.parametrize("compile_options", [
    {"run_eagerly": True},
    pytest.param({}, marks=pytest.mark.slow),  # Keras' default: a compiled train step
])
def test_fit_step_trains_ctc(compile_options):
    # SpecAugment on (spans of 3 frames), so the train step runs the random masking too.
    model = tfmodels.Wav2Vec2ForCTC(**BASE, mask_time_prob=0.2, mask_time_length=3).build_from_dummy_inputs()
    data = inputs_for("Wav2Vec2ForCTC")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), **compile_options)
    before = model.lm_head.kernel.numpy().copy()
    history = model.fit(data, batch_size=3, epochs=1, verbose=0)
    loss = history.history["loss"][0]
    assert np.isfinite(loss) and loss > 0
    assert not np.allclose(model.lm_head.kernel.numpy(), before)


@pytest.mark.slow
def test_fit_step_trains_pretraining_on_its_loss():
    model = tfmodels.Wav2Vec2ForPreTraining(**BASE)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)
    data = {**audio(), **pretraining_inputs()}
    history = model.fit(data, batch_size=3, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


@pytest.mark.slow
def test_xla_forward_equals_eager(checkpoints):
    for class_name, variant, key in (("Wav2Vec2ForCTC", "layer", "logits"),
                                     ("Wav2Vec2ForPreTraining", "group", "loss")):
        model = getattr(tfmodels, class_name).from_pretrained(checkpoints(class_name, variant))
        inputs = {k: tf.constant(v) for k, v in inputs_for(class_name, variant).items()}
        eager = model(inputs)[key].numpy()
        compiled = tf.function(lambda x: model(x)[key], jit_compile=True)
        np.testing.assert_allclose(compiled(inputs).numpy(), eager, atol=1e-5)


def test_bad_inputs_are_refused_clearly():
    model = tfmodels.Wav2Vec2Model(**{**BASE, "mask_time_prob": 0.0})
    with pytest.raises(TypeError, match=r"`input_values` must be floating point.*int16"):
        model({"input_values": np.zeros((1, 200), dtype="int16")})
    with pytest.raises(ValueError, match=r"shape \(batch, samples\)"):
        model({"input_values": np.zeros((1, 200, 2), dtype="float32")})
    with pytest.raises(ValueError, match=r"fewer than the feature encoder's receptive field \(11\)"):
        model({"input_values": np.zeros((1, 8), dtype="float32")})
    with pytest.raises(ValueError, match="needs the learned `masked_spec_embed`"):
        model({"input_values": np.zeros((1, 200), dtype="float32"), "mask_time_indices": np.ones((1, 32), bool)})
    with pytest.raises(ValueError, match="does not implement Wav2Vec2 adapters"):
        tfmodels.Wav2Vec2Model(**BASE, add_adapter=True)
    with pytest.raises(ValueError, match="ctc_loss_reduction must be one of"):
        tfmodels.Wav2Vec2ForCTC(**BASE, ctc_loss_reduction="max")
    with pytest.raises(ValueError, match="feat_extract_norm must be one of"):
        tfmodels.Wav2Vec2Model(**{**BASE, "feat_extract_norm": "batch"})


@pytest.mark.skipif(espeak() is None, reason=ESPEAK_MISSING)
def test_real_speech_end_to_end(tmp_path):
    speech, rate = synthesized_speech(tmp_path)
    assert speech.ndim == 1 and len(speech) > rate  # over a second of audio
    # A tiny CTC model with a coarse feature encoder (80 samples per frame), and the extractor saved
    # beside it by transformers, read back by ours.
    path = hf_checkpoint("Wav2Vec2ForCTC", config("layer", conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4),
                                                    conv_dim=(10, 12, 14)), tmp_path / "model")
    transformers.Wav2Vec2FeatureExtractor(sampling_rate=rate, return_attention_mask=True).save_pretrained(path)
    with open(os.path.join(path, "preprocessor_config.json")) as f:
        assert json.load(f)["sampling_rate"] == rate
    batch = [speech, speech[: len(speech) // 2]]
    reference = transformers.Wav2Vec2FeatureExtractor.from_pretrained(path)(
        batch, sampling_rate=rate, padding=True, return_tensors="np")
    inputs = Wav2Vec2FeatureExtractor.from_pretrained(path)(batch, sampling_rate=rate, padding=True)
    for key in ("input_values", "attention_mask"):
        np.testing.assert_array_equal(inputs[key], reference[key])
    expected = torch_outputs("Wav2Vec2ForCTC", path, dict(inputs))
    got = tfmodels.Wav2Vec2ForCTC.from_pretrained(path)(inputs)
    compare_outputs(_to_numpy(got), expected)


@pytest.mark.slow
def test_saved_model_takes_audio_of_any_length(checkpoints, tmp_path):
    model = tfmodels.Wav2Vec2ForCTC.from_pretrained(checkpoints("Wav2Vec2ForCTC", "layer"))
    tfmodels.export_saved_model(model, tmp_path / "ctc")
    loaded = tf.saved_model.load(str(tmp_path / "ctc"))
    serve = loaded.signatures["serving_default"]
    for samples in (200, 131):
        inputs = audio(samples=samples, lengths=(samples, 120, 90))
        got = serve(input_values=tf.constant(inputs["input_values"]),
                    attention_mask=tf.constant(inputs["attention_mask"], tf.int32))["logits"].numpy()
        np.testing.assert_allclose(got, model(inputs)["logits"].numpy(), atol=1e-5)


def test_speech_layers_round_trip_their_config():
    from tfmodels.layers.audio import ChannelGroupNormalization, ConvFeatureEncoder, PositionalConvEmbedding
    from tfmodels.layers.vector_quantizer import GumbelVectorQuantizer

    x = np.random.RandomState(0).randn(2, 9, 8).astype("float32")
    cases = [
        (ConvFeatureEncoder([4, 6], [5, 3], [3, 2], conv_bias=True, feat_extract_norm="layer"), x.reshape(2, 72)),
        (PositionalConvEmbedding(8, kernel_size=4, num_groups=2), x),
        (ChannelGroupNormalization(epsilon=1e-4), x),
        (GumbelVectorQuantizer(2, 3, 6), x),
    ]
    for layer, inputs in cases:
        expected = layer(inputs)
        clone = type(layer).from_config(layer.get_config())
        clone(inputs)
        clone.set_weights(layer.get_weights())
        got = clone(inputs)
        for a, b in zip(tf.nest.flatten(got), tf.nest.flatten(expected)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
