"""The layers added for LayoutLM, XLM/FlauBERT, MobileBERT and SqueezeBERT: config round
trip, XLA == eager, and each architecture compiles with `jit_compile=True`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tfmodels.layers.bottleneck_block import BottleneckEncoderBlock
from tfmodels.layers.grouped import GroupedDense, GroupedEncoderBlock
from tfmodels.layers.heads import SequenceSummary
from tfmodels.layers.layer_drop import LayerDrop
from tfmodels.layers.normalization import NoNorm, normalization
from tfmodels.layers.position import BoundingBoxEmbedding, SinusoidalInitializer
from tests.test_mixed_precision import assert_close_to_float32

X = np.random.RandomState(0).randn(2, 5, 16).astype("float32")
BOXES = np.random.RandomState(1).randint(0, 10, (2, 5, 4)).astype("int32")

LAYERS = [
    (lambda: BoundingBoxEmbedding(40, 16), BOXES),
    (lambda: SequenceSummary("mean", num_outputs=3, activation="tanh"), X),
    (lambda: SequenceSummary("first"), X),
    (lambda: NoNorm(), X),
    (lambda: BottleneckEncoderBlock(4, 24, bottleneck_size=8, num_feedforward_networks=2,
                                    normalization_type="no_norm"), X),
    (lambda: GroupedDense(8, groups=4), X),
    (lambda: GroupedEncoderBlock(groups={"query": 2, "intermediate": 4}, num_heads=4, intermediate_size=24), X),
]


@pytest.mark.parametrize("index", range(len(LAYERS)))
def test_layer_config_round_trip_and_xla(index):
    make, inputs = LAYERS[index]
    layer = make()
    eager = layer(inputs)
    clone = type(layer).from_config(layer.get_config())
    clone(inputs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(inputs), eager, atol=1e-6)
    compiled = tf.function(lambda x: layer(x), jit_compile=True)
    np.testing.assert_allclose(compiled(inputs), eager, atol=1e-5)


def test_layer_drop_only_in_training():
    drop = LayerDrop(0.5, seed=1)
    a, b = np.zeros((1, 2, 3), "float32"), np.ones((1, 2, 3), "float32")
    np.testing.assert_array_equal(drop(a, b, training=False), b)
    seen = {float(np.asarray(drop(a, b, training=True)).sum()) for _ in range(20)}
    assert seen == {0.0, 6.0}
    with pytest.raises(ValueError, match="rate"):
        LayerDrop(1.0)


def test_sinusoidal_initializer_matches_transformers():
    """Against the table `transformers.XLMModel` builds for `sinusoidal_embeddings=True` (public config only)."""
    import transformers

    config = transformers.XLMConfig(vocab_size=10, emb_dim=10, max_position_embeddings=12, n_layers=1, n_heads=2,
                                    sinusoidal_embeddings=True)
    reference = transformers.XLMModel(config).position_embeddings.weight.detach().numpy()
    ours = np.asarray(SinusoidalInitializer()((12, 10)))
    np.testing.assert_allclose(ours, reference, atol=1e-6)


def test_normalization_rejects_unknown_kind():
    with pytest.raises(ValueError, match="normalization_type"):
        normalization("batch_norm")


MODELS = [
    (tfmodels.LayoutLMForTokenClassification, dict(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                   num_attention_heads=2, intermediate_size=20,
                                                   max_2d_position_embeddings=20), {"bbox": BOXES}),
    (tfmodels.XLMForSequenceClassification, dict(vocab_size=50, emb_dim=16, n_layers=1, n_heads=2, n_langs=2),
     {"langs": np.ones((2, 5), "int32")}),
    (tfmodels.FlaubertWithLMHeadModel, dict(vocab_size=50, emb_dim=16, n_layers=2, n_heads=2, pre_norm=True,
                                            layerdrop=0.1), {}),
    (tfmodels.MobileBertForMaskedLM, dict(vocab_size=50, hidden_size=16, embedding_size=8, intra_bottleneck_size=8,
                                          num_hidden_layers=1, num_attention_heads=2, intermediate_size=12,
                                          num_feedforward_networks=2), {}),
    (tfmodels.SqueezeBertForQuestionAnswering, dict(vocab_size=50, hidden_size=16, embedding_size=16,
                                                    num_hidden_layers=1, num_attention_heads=2,
                                                    intermediate_size=24), {}),
]


@pytest.mark.parametrize("index", range(len(MODELS)))
def test_model_xla_and_config_round_trip(index):
    cls, config, extra = MODELS[index]
    model = cls(**config)
    inputs = {"input_ids": np.arange(10, dtype="int32").reshape(2, 5) + 3,
              "attention_mask": np.array([[1] * 5, [1, 1, 1, 0, 0]], "int32"), **extra}
    eager = model(inputs, training=False)
    compiled = tf.function(lambda x: model(x, training=False), jit_compile=True)(inputs)
    for key, value in eager.items():
        np.testing.assert_allclose(compiled[key], value, atol=1e-5)
    clone = cls.from_config(model.get_config())
    clone(inputs)
    clone.set_weights(model.get_weights())
    key = next(iter(eager))
    np.testing.assert_allclose(clone(inputs, training=False)[key], eager[key], atol=1e-6)


def test_mixed_precision_mobilebert_and_squeezebert():
    inputs = {"input_ids": np.random.RandomState(0).randint(1, 50, (2, 4)).astype("int32")}
    for cls, config, _ in MODELS[3:]:
        keras.mixed_precision.set_global_policy("float32")
        reference_model = cls(**config).build_from_dummy_inputs()
        reference = reference_model(inputs)
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        model = cls(**config).build_from_dummy_inputs()
        model.set_weights(reference_model.get_weights())
        for key, value in model(inputs).items():
            assert_close_to_float32(value, reference[key], "mixed_bfloat16", f"{cls.__name__} {key}")


def test_fit_step_xlm_sequence_summary_head():
    model = tfmodels.XLMForSequenceClassification(vocab_size=50, emb_dim=16, n_layers=1, n_heads=2, num_labels=3)
    model.compile(optimizer="adam")
    x = {"input_ids": np.random.RandomState(0).randint(3, 50, (4, 6)).astype("int32"),
         "attention_mask": np.ones((4, 6), "int32"), "labels": np.array([0, 1, 2, 1])}
    model.build_from_dummy_inputs()
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(x, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    # Adam's first step moves every weight with a gradient by ~lr (1e-3).
    assert max(float(np.max(np.abs(np.asarray(w) - b))) for w, b in zip(model.trainable_weights, before)) >= 5e-4


def test_squad_beam_head_config_round_trip():
    from tfmodels.layers import SquadBeamHead

    head = SquadBeamHead(16, start_n_top=2, end_n_top=3)
    outputs = head(X)
    assert outputs["end_top_index"].shape == (2, 6)
    clone = SquadBeamHead.from_config(head.get_config())
    clone(X)
    clone.set_weights(head.get_weights())
    np.testing.assert_allclose(clone(X)["cls_logits"], outputs["cls_logits"], atol=1e-6)


@pytest.mark.parametrize("index", [0, 1])
def test_export_takes_bbox_and_langs(index, tmp_path):
    """LayoutLM's SavedModel signature takes `bbox`, a multilingual XLM's takes `langs`."""
    cls, config, extra = MODELS[index]
    model = cls(**config)
    inputs = {"input_ids": np.arange(10, dtype="int32").reshape(2, 5) + 3,
              "attention_mask": np.ones((2, 5), "int32"), **extra}
    if "token_type_ids" in model.input_names:
        inputs["token_type_ids"] = np.zeros((2, 5), "int32")
    path = tfmodels.export_saved_model(model, tmp_path / "exported")
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    assert set(extra) <= set(serve.structured_input_signature[1])
    served = serve(**{k: tf.constant(v) for k, v in inputs.items()})
    np.testing.assert_allclose(served["logits"], model(inputs, training=False)["logits"], atol=1e-5)
