"""Speech2Text against the PyTorch reference: every output of both classes on a padded batch of
filter-bank frames (the loss too), `generate()` greedy and beam token for token, checkpoints
written back, XLA, a `fit()` step, the feature extractor (NumPy and in-graph) and real
synthesised speech end to end.

Tiny odd config: `d_model=30`, 3 encoder / 5 decoder heads, 2 encoder / 3 decoder layers, FFN
widths 37 / 29, a two-layer subsampler of kernels 5 and 3 with 22 channels over 13 features.
Three rows of 23 frames (12, then 6 after the subsampler), rows 1 and 2 right-padded to 17 and 9
frames (5 and 3 subsampled); decoder inputs with padding tokens in row 1.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import transformers

import tfmodels
from tests.helpers import (
    ESPEAK_MISSING,
    _to_numpy,
    assert_parity,
    assert_save_round_trip,
    compare_outputs,
    espeak,
    hf_checkpoint,
    synthesized_speech,
    torch_outputs,
)
from tfmodels.processors import Speech2TextFeatureExtractor

PAD, EOS, VOCAB, FEATURES, FRAMES, LENGTHS = 1, 2, 61, 13, 23, (23, 17, 9)
CLASSES = ("Speech2TextModel", "Speech2TextForConditionalGeneration")


def config(**overrides):
    fields = dict(vocab_size=VOCAB, d_model=30, encoder_layers=2, decoder_layers=3, encoder_attention_heads=3,
                  decoder_attention_heads=5, encoder_ffn_dim=37, decoder_ffn_dim=29, max_source_positions=40,
                  max_target_positions=30, num_conv_layers=2, conv_kernel_sizes=(5, 3), conv_channels=22,
                  input_feat_per_channel=FEATURES, input_channels=1, activation_function="gelu",
                  pad_token_id=PAD, eos_token_id=EOS, decoder_start_token_id=EOS)
    return transformers.Speech2TextConfig(**{**fields, **overrides})


def speech_inputs(seed=0, labels=True, decoder=True):
    """Zero-padded `input_features`, their int64 frame `attention_mask`, decoder inputs and labels."""
    rng = np.random.RandomState(seed)
    mask = (np.arange(FRAMES)[None, :] < np.array(LENGTHS)[:, None]).astype("int64")
    inputs = {"input_features": (rng.randn(3, FRAMES, FEATURES) * mask[:, :, None]).astype("float32"),
              "attention_mask": mask}
    if decoder:
        ids = rng.randint(3, VOCAB, (3, 7))
        ids[:, 0] = EOS
        ids[1, 5:] = PAD  # padding tokens: the fairseq positions skip them
        inputs["decoder_input_ids"] = ids
    if labels:
        target = rng.randint(3, VOCAB, (3, 7))
        target[2, 4:] = -100
        inputs["labels"] = target
    return inputs


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    made = {}

    def get(class_name, **overrides):
        key = (class_name, tuple(sorted(overrides.items())))
        if key not in made:
            made[key] = hf_checkpoint(class_name, config(**overrides), tmp_path_factory.mktemp(class_name))
        return made[key]

    return get


@pytest.mark.parametrize("class_name", CLASSES)
def test_parity_every_output(class_name, checkpoints):
    inputs = speech_inputs(labels=class_name != "Speech2TextModel")
    diffs = assert_parity(class_name, checkpoints(class_name), inputs)
    expected = {"encoder_last_hidden_state", "encoder_hidden_states", "encoder_attentions", "decoder_hidden_states",
                "decoder_attentions", "cross_attentions"}
    expected |= {"last_hidden_state"} if class_name == "Speech2TextModel" else {"logits", "loss"}
    assert expected <= set(diffs)


@pytest.mark.slow
def test_labels_alone_and_no_attention_mask(checkpoints):
    """Decoder inputs shifted from `labels`; without a mask every frame is real (positions from 2 on)."""
    inputs = speech_inputs(decoder=False)
    del inputs["attention_mask"]
    assert_parity("Speech2TextForConditionalGeneration", checkpoints("Speech2TextForConditionalGeneration"),
                        inputs)


def test_subsampled_mask_matches_the_reference():
    from transformers.models.speech_to_text.modeling_speech_to_text import Speech2TextPreTrainedModel
    import torch

    model = tfmodels.Speech2TextModel(**config(num_conv_layers=3, conv_kernel_sizes=(3, 5, 3)).to_dict())
    mask = np.zeros((5, 40), "int64")
    for row, length in enumerate((40, 33, 8, 1, 0)):  # 0: the reference lets the row attend everywhere
        mask[row, :length] = 1
    reference = Speech2TextPreTrainedModel._get_feature_vector_attention_mask(
        transformers.Speech2TextModel(config(num_conv_layers=3, conv_kernel_sizes=(3, 5, 3))), 5, torch.tensor(mask))
    np.testing.assert_array_equal(np.asarray(model.feature_vector_attention_mask(mask, 5)), reference.numpy())


def check_generate(model, path, inputs, **options):
    import torch

    reference = transformers.Speech2TextForConditionalGeneration.from_pretrained(path).eval()
    with torch.no_grad():
        expected = reference.generate(input_features=torch.tensor(inputs["input_features"]),
                                      attention_mask=torch.tensor(inputs["attention_mask"]), do_sample=False,
                                      use_cache=False, **options).numpy()
    assert len({tuple(row) for row in expected[:, 1:]}) > 2  # the rows differ: the test can see a wrong row
    ours = model.generate(inputs["input_features"], attention_mask=inputs["attention_mask"], jit_compile=False,
                          **options)
    np.testing.assert_array_equal(ours.numpy(), expected)
    return expected


# Each search traces its own loop (~20 s on 2 shared cores): greedy runs by default, beams opt in.
@pytest.mark.parametrize("options", [{}, pytest.param(dict(num_beams=3, num_return_sequences=2),
                                                      marks=pytest.mark.slow)])
def test_generate_is_token_identical_to_transformers(checkpoints, options):
    # A large `init_std`: with 0.02 the random model repeats one token.
    path = checkpoints("Speech2TextForConditionalGeneration", init_std=1.0)
    model = tfmodels.Speech2TextForConditionalGeneration.from_pretrained(path)
    check_generate(model, path, speech_inputs(labels=False, decoder=False), max_new_tokens=8, **options)


@pytest.mark.slow
def test_padding_changes_generation_as_in_the_reference(checkpoints):
    """The subsampled frame mask reaches the cross-attention: the padded rows' tokens change without it."""
    path = checkpoints("Speech2TextForConditionalGeneration", init_std=1.0)
    model = tfmodels.Speech2TextForConditionalGeneration.from_pretrained(path)
    inputs = speech_inputs(labels=False, decoder=False)
    masked = model.generate(inputs["input_features"], attention_mask=inputs["attention_mask"], max_new_tokens=8,
                            jit_compile=False).numpy()
    unmasked = model.generate(inputs["input_features"], max_new_tokens=8, jit_compile=False).numpy()
    np.testing.assert_array_equal(masked[0], unmasked[0])  # row 0 has no padding
    assert (masked[1:] != unmasked[1:]).any()


@pytest.mark.slow
def test_xla_generate_is_token_identical(checkpoints):
    path = checkpoints("Speech2TextForConditionalGeneration", init_std=1.0)
    model = tfmodels.Speech2TextForConditionalGeneration.from_pretrained(path)
    inputs = speech_inputs(seed=3, labels=False, decoder=False)
    expected = check_generate(model, path, inputs, max_new_tokens=8, num_beams=3, num_return_sequences=2)
    ours = model.generate(inputs["input_features"], attention_mask=inputs["attention_mask"], max_new_tokens=8,
                          num_beams=3, num_return_sequences=2, jit_compile=True)
    np.testing.assert_array_equal(ours.numpy(), expected)


@pytest.mark.parametrize("overrides", [{}, pytest.param({"tie_word_embeddings": False}, marks=pytest.mark.slow)])
def test_save_pretrained_round_trips(checkpoints, tmp_path, overrides):
    path = checkpoints("Speech2TextForConditionalGeneration", **overrides)
    diffs = assert_save_round_trip("Speech2TextForConditionalGeneration", path, speech_inputs(), tmp_path / "saved")
    assert {"logits", "loss"} <= set(diffs)


@pytest.mark.slow
def test_saved_model_takes_any_number_of_frames(checkpoints, tmp_path):
    model = tfmodels.Speech2TextForConditionalGeneration.from_pretrained(
        checkpoints("Speech2TextForConditionalGeneration"))
    tfmodels.export_saved_model(model, tmp_path / "s2t")
    serve = tf.saved_model.load(str(tmp_path / "s2t")).signatures["serving_default"]
    inputs = speech_inputs(labels=False)
    inputs["decoder_attention_mask"] = np.ones((3, 7), "int32")
    for frames in (FRAMES, 15):
        cut = {**inputs, "input_features": inputs["input_features"][:, :frames],
               "attention_mask": inputs["attention_mask"][:, :frames]}
        got = serve(**{k: tf.constant(v, tf.float32 if k == "input_features" else tf.int32) for k, v in cut.items()})
        np.testing.assert_allclose(got["logits"].numpy(), model(cut)["logits"].numpy(), atol=1e-5)


@pytest.mark.slow
def test_xla_forward_equals_eager(checkpoints):
    model = tfmodels.Speech2TextForConditionalGeneration.from_pretrained(
        checkpoints("Speech2TextForConditionalGeneration"))
    inputs = {k: tf.constant(v) for k, v in speech_inputs().items()}
    eager = model(inputs)
    compiled = tf.function(lambda x: model(x), jit_compile=True)(inputs)
    for key in ("logits", "loss", "encoder_last_hidden_state"):
        np.testing.assert_allclose(compiled[key].numpy(), eager[key].numpy(), atol=1e-5)


@pytest.mark.parametrize("compile_options", [
    {"run_eagerly": True},
    pytest.param({}, marks=pytest.mark.slow),  # Keras' default: a compiled (XLA) train step, minutes on 2 cores
])
def test_fit_step_trains_on_the_lm_loss_without_a_given_loss(compile_options):
    model = tfmodels.Speech2TextForConditionalGeneration(**config().to_dict()).build_from_dummy_inputs()
    data = speech_inputs(decoder=False)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), **compile_options)
    before = model.backbone.conv.conv_layers[0].kernel.numpy().copy()
    history = model.fit(data, batch_size=3, epochs=1, verbose=0)
    loss = history.history["loss"][0]
    assert np.isfinite(loss) and loss > 0
    assert not np.allclose(model.backbone.conv.conv_layers[0].kernel.numpy(), before)


def test_auto_classes():
    assert tfmodels.AutoModelForSpeechSeq2Seq.model_class("speech_to_text") is \
        tfmodels.Speech2TextForConditionalGeneration
    assert tfmodels.AutoModel.model_class("speech_to_text") is tfmodels.Speech2TextModel
    assert "speech_to_text" not in tfmodels.AutoModelForSeq2SeqLM._registry  # it takes text
    assert set(tfmodels.AutoModelForSpeechSeq2Seq._registry) == {"speech_to_text"}


def test_bad_inputs_are_refused_clearly():
    model = tfmodels.Speech2TextForConditionalGeneration(**config().to_dict())
    inputs = speech_inputs()
    with pytest.raises(TypeError, match="`input_features` must be floating point"):
        model({**inputs, "input_features": inputs["input_features"].astype("int32")})
    with pytest.raises(ValueError, match=r"shape \(batch, frames, 13\)"):
        model({**inputs, "input_features": inputs["input_features"][:, :, :12]})
    with pytest.raises(ValueError, match="attention_mask must be \\(batch, frames\\)"):
        model({**inputs, "attention_mask": inputs["attention_mask"][:, :20]})
    with pytest.raises(ValueError, match="needs `decoder_input_ids`"):
        tfmodels.Speech2TextModel(**config().to_dict())({"input_features": inputs["input_features"]})
    with pytest.raises(ValueError, match=r"shape \(batch, frames, 13\)"):
        model.generate(inputs["input_features"][0], max_new_tokens=2)
    with pytest.raises(ValueError, match="one entry per convolution layer"):
        tfmodels.Speech2TextModel(**{**config().to_dict(), "conv_kernel_sizes": [5]})
    with pytest.raises(ValueError, match="conv_channels must be even"):
        tfmodels.Speech2TextModel(**{**config().to_dict(), "conv_channels": 21})
    with pytest.raises(ValueError, match="at least 400 samples"):
        Speech2TextFeatureExtractor()(np.zeros(399, "float32"))


def test_subsampler_round_trips_its_config():
    from tfmodels.layers.audio import Conv1dSubsampler

    layer = Conv1dSubsampler(10, 7, [3, 5])
    x = np.random.RandomState(0).randn(2, 11, 5).astype("float32")
    expected = layer(x)
    assert tuple(expected.shape) == layer.compute_output_shape(x.shape) == (2, 3, 7)
    assert layer.output_lengths(11) == 3
    clone = Conv1dSubsampler.from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), expected.numpy())


# -- feature extractor ------------------------------------------------------------------

@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """Real speech at 16 kHz (espeak-ng), a cut of it and noise, or noise only without espeak-ng."""
    rng = np.random.RandomState(5)
    noise = [rng.randn(n).astype("float32") * 0.2 for n in (4000, 1234)]
    if espeak() is None:
        return None, noise
    spoken, _ = synthesized_speech(tmp_path_factory.mktemp("speech"), sampling_rate=16000)
    return spoken, [spoken, spoken[: len(spoken) // 2 + 37], noise[1]]


@pytest.mark.parametrize("options", [
    dict(padding=True),
    dict(padding=True, return_attention_mask=True, pad_to_multiple_of=8),
    dict(padding="max_length", max_length=60, truncation=True),
    dict(padding=False),  # one example: no padding needed
])
def test_feature_extractor_matches_transformers(speech, options):
    batch = speech[1] if options["padding"] else speech[1][:1]
    expected = transformers.Speech2TextFeatureExtractor()(batch, sampling_rate=16000, return_tensors="np", **options)
    got = Speech2TextFeatureExtractor()(batch, sampling_rate=16000, **options)
    assert sorted(got) == sorted(expected)
    for key, value in got.items():
        assert value.dtype == expected[key].dtype
        np.testing.assert_array_equal(value, expected[key])  # bit-identical, real speech included


def test_feature_extractor_options_match_transformers(speech):
    batch = speech[1]
    for fields in (dict(do_ceptral_normalize=False), dict(normalize_vars=False), dict(num_mel_bins=40, feature_size=40,
                                                                                     padding_value=-1.0)):
        expected = transformers.Speech2TextFeatureExtractor(**fields)(batch, sampling_rate=16000, padding=True,
                                                                       return_tensors="np")
        got = Speech2TextFeatureExtractor(**fields)(batch, sampling_rate=16000, padding=True)
        np.testing.assert_array_equal(got["input_features"], expected["input_features"])
    np.random.seed(0)
    expected = transformers.Speech2TextFeatureExtractor(dither=1.0)(batch[:1], sampling_rate=16000)["input_features"]
    np.random.seed(0)  # the same draws, in the same order
    got = Speech2TextFeatureExtractor(dither=1.0)(batch[:1], sampling_rate=16000)["input_features"]
    np.testing.assert_array_equal(got[0], expected[0])


def test_in_graph_filter_banks_equal_the_numpy_extractor(speech, tmp_path):
    batch = speech[1]
    extractor = Speech2TextFeatureExtractor()
    expected = extractor(batch, padding=True)
    waveforms = np.stack([np.pad(x, (0, max(map(len, batch)) - len(x))) for x in batch])
    lengths = np.array([len(x) for x in batch], "int32")
    features, mask = tf.function(extractor.in_graph(), jit_compile=True)(waveforms, lengths)
    np.testing.assert_array_equal(mask.numpy(), expected["attention_mask"])
    np.testing.assert_array_equal(features.numpy(), expected["input_features"])  # XLA: bit for bit

    # A SavedModel over raw audio of any length, run without XLA: measured 4.8e-7 (float32 ulps).
    module = tf.Module()
    module.extract = tf.function(extractor.in_graph(), input_signature=[
        tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None], tf.int32)])
    tf.saved_model.save(module, str(tmp_path / "fbank"))
    loaded = tf.saved_model.load(str(tmp_path / "fbank"))
    short = waveforms[1:, :len(batch[1])]
    got, got_mask = loaded.extract(tf.constant(short), tf.constant(lengths[1:]))
    reference = extractor(batch[1:], padding=True)
    np.testing.assert_array_equal(got_mask.numpy(), reference["attention_mask"])
    assert np.abs(got.numpy() - reference["input_features"]).max() <= 1e-6


@pytest.mark.skipif(espeak() is None, reason=ESPEAK_MISSING)
def test_real_speech_end_to_end(speech, tmp_path):
    spoken, batch = speech
    assert len(spoken) > 16000  # over a second of audio
    path = hf_checkpoint("Speech2TextForConditionalGeneration", config(input_feat_per_channel=80,
                                                                       max_source_positions=200), tmp_path / "model")
    transformers.Speech2TextFeatureExtractor().save_pretrained(path)
    with open(os.path.join(path, "preprocessor_config.json")) as f:
        assert json.load(f)["feature_extractor_type"] == "Speech2TextFeatureExtractor"
    reference = transformers.Speech2TextFeatureExtractor.from_pretrained(path)(
        batch[:2], sampling_rate=16000, padding=True, return_tensors="np")
    inputs = Speech2TextFeatureExtractor.from_pretrained(path)(batch[:2], sampling_rate=16000, padding=True)
    for key in ("input_features", "attention_mask"):
        np.testing.assert_array_equal(inputs[key], reference[key])
    inputs["decoder_input_ids"] = np.array([[EOS, 5, 9, 11], [EOS, 7, PAD, PAD]])
    expected = torch_outputs("Speech2TextForConditionalGeneration", path, dict(inputs))
    got = tfmodels.Speech2TextForConditionalGeneration.from_pretrained(path)(inputs)
    compare_outputs(_to_numpy(got), expected)
