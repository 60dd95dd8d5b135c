"""`automatic-speech-recognition` against `transformers.pipeline` (PyTorch, v5.24) on tiny checkpoints.

A random `Wav2Vec2ForCTC` (80 samples per frame) with a character-level
`Wav2Vec2CTCTokenizer` and a `Wav2Vec2FeatureExtractor` at 22050 Hz, saved
into one directory (`tests.pipeline_checkpoints`); and a random
`Speech2TextForConditionalGeneration` with its `Speech2TextFeatureExtractor`
(16 kHz filter banks) and a byte-level BPE tokenizer, decoded with
`generate()` (beam search: the pipeline's default `num_beams=5`). Inputs are real speech
synthesised by espeak-ng (tests needing it skip where it is absent) and
random waveforms, one at a time and batched with unequal lengths (the
padded frames are decoded too, in both). Texts must be identical.

The reference reads files and bytes with the `ffmpeg` program, which is not
installed here; ours reads them with `soundfile`, so file inputs are
compared with the reference on the waveform soundfile decodes.
"""

import shutil
import subprocess

import numpy as np
import pytest
import transformers

import tfmodels
from tests.pipeline_checkpoints import SPEECH_SAMPLING_RATE, build
from tests.test_pipelines import assert_same
from tfmodels.processors import Wav2Vec2FeatureExtractor

TASK = "automatic-speech-recognition"
RATE = SPEECH_SAMPLING_RATE
SENTENCES = ("The quick brown fox jumps over the lazy dog.", "Hello world.")
ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed (apt-get install -y espeak-ng); "
                                                         "it synthesises the real speech these tests run on")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return build("wav2vec2-ctc", tmp_path_factory.mktemp("asr") / "wav2vec2-ctc")


@pytest.fixture(scope="module")
def pipelines(checkpoint):
    return tfmodels.pipeline(TASK, model=checkpoint), transformers.pipeline(TASK, model=checkpoint)


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """`(wav paths, waveforms)` of `SENTENCES` spoken by espeak-ng (22050 Hz, 16-bit mono)."""
    if ESPEAK is None:
        pytest.skip("espeak-ng is not installed (apt-get install -y espeak-ng)")
    import soundfile

    root = tmp_path_factory.mktemp("speech")
    paths, waveforms = [], []
    for i, sentence in enumerate(SENTENCES):
        path = root / f"speech{i}.wav"
        subprocess.run([ESPEAK, "-w", str(path), sentence], check=True, capture_output=True)
        waveform, rate = soundfile.read(path, dtype="float32")
        assert rate == RATE and waveform.ndim == 1
        paths.append(str(path))
        waveforms.append(waveform)
    return paths, waveforms


def waveforms(*lengths, seed=0):
    random = np.random.RandomState(seed)
    return [random.randn(n).astype("float32") for n in lengths]


def check(pipelines, inputs, reference_inputs=None, ours_kwargs=None, **kwargs):
    ours, reference = pipelines
    reference_inputs = inputs if reference_inputs is None else reference_inputs
    if isinstance(reference_inputs, dict):
        reference_inputs = dict(reference_inputs)  # the reference pops the keys of the caller's dict
    expected = reference(reference_inputs, **kwargs)
    assert_same(ours(inputs, **kwargs, **(ours_kwargs or {})), expected)
    return expected


@needs_espeak
def test_real_speech_single_batched_files_and_bytes(pipelines, speech):
    paths, spoken = speech
    assert len(spoken[0]) > RATE and len(spoken[1]) < len(spoken[0])  # over a second, unequal lengths
    result = check(pipelines, spoken[0])
    assert result["text"]  # a random model still emits characters
    check(pipelines, spoken, batch_size=2)
    check(pipelines, paths, reference_inputs=spoken, batch_size=2)
    with open(paths[1], "rb") as f:
        check(pipelines, f.read(), reference_inputs=spoken[1])
    check(pipelines, {"raw": spoken[1], "sampling_rate": RATE})


@needs_espeak
def test_real_speech_chunked_with_timestamps(pipelines, speech):
    _, spoken = speech
    check(pipelines, spoken, chunk_length_s=0.6, stride_length_s=(0.1, 0.15), batch_size=3)
    check(pipelines, spoken[0], chunk_length_s=0.5, return_timestamps="word", batch_size=2)


def test_random_waveforms(pipelines):
    a, b, c = waveforms(3000, 1700, 2411)
    check(pipelines, a)
    batched = check(pipelines, [a, b, c], batch_size=2)
    unbatched = check(pipelines, [a, b, c], batch_size=1)
    assert batched[0] == unbatched[0]  # the longest of its batch: no padded frames
    check(pipelines, np.stack([a[:1700], b]))  # (channels, samples): averaged to mono
    check(pipelines, {"array": a, "sampling_rate": RATE, "path": "x.wav", "id": 7})  # extra keys come back
    check(pipelines, {"raw": a, "sampling_rate": RATE, "stride": (400, 300)})
    check(pipelines, [a, c], chunk_length_s=0.05, batch_size=3)
    check(pipelines, a, return_timestamps="char")


def test_feature_extractor_padding_value_and_objects(checkpoint):
    """Objects instead of the checkpoint's files; batches padded with the extractor's `padding_value`
    (the reference asks for the attention mask even where the config does not return it)."""
    fields = dict(sampling_rate=RATE, padding_value=0.5, do_normalize=False, return_attention_mask=False)
    tokenizer = transformers.AutoTokenizer.from_pretrained(checkpoint)
    ours = tfmodels.pipeline(TASK, model=tfmodels.AutoModelForCTC.from_pretrained(checkpoint), tokenizer=tokenizer,
                             feature_extractor=Wav2Vec2FeatureExtractor(**fields))
    reference = transformers.pipeline(TASK, model=checkpoint, feature_extractor=transformers.Wav2Vec2FeatureExtractor(
        **fields))
    inputs = waveforms(2100, 900, seed=1)
    assert_same(ours(inputs, batch_size=2), reference(inputs, batch_size=2))


def test_clear_errors(pipelines, checkpoint, tmp_path):
    import soundfile

    ours, _ = pipelines
    (a,) = waveforms(1000)
    with pytest.raises(ValueError, match="sampled at 16000 Hz but the model's feature extractor takes 22050"):
        ours({"raw": a, "sampling_rate": 16000})
    path = tmp_path / "16k.wav"
    soundfile.write(path, a / 10, 16000)
    with pytest.raises(ValueError, match="sampled at 16000 Hz .* does not resample"):
        ours(str(path))
    with pytest.raises(ValueError, match="soundfile cannot decode"):
        ours(b"not audio at all")
    with pytest.raises(FileNotFoundError, match="No audio file"):
        ours(str(tmp_path / "missing.wav"))
    with pytest.raises(ValueError, match='"raw" \\(or "array"\\)'):
        ours({"waveform": a, "sampling_rate": RATE})
    with pytest.raises(TypeError, match="float numpy array"):
        ours(123)
    with pytest.raises(ValueError, match="transposed"):
        ours(np.zeros((1000, 2), np.float32))  # channels-last
    with pytest.raises(ValueError, match="longer than the audio"):
        ours({"raw": a, "sampling_rate": RATE, "stride": (600, 600)})
    with pytest.raises(ValueError, match="longer than its two strides"):
        ours(a, chunk_length_s=0.05, stride_length_s=0.03)
    with pytest.raises(ValueError, match="return_timestamps='char' or 'word'"):
        ours(a, return_timestamps=True)
    with pytest.raises(TypeError, match="CTC model: generate\\(\\) options"):
        ours(a, max_new_tokens=3)
    model = tfmodels.AutoModelForCTC.from_pretrained(checkpoint)
    with pytest.raises(ValueError, match="feature_extractor="):
        tfmodels.pipeline(TASK, model=model, tokenizer=ours.tokenizer)
    with pytest.raises(ValueError, match="pyctcdecode"):
        tfmodels.pipeline(TASK, model=checkpoint, decoder=object())
    with pytest.raises(ValueError, match="no default model.*facebook/wav2vec2-base-960h"):
        tfmodels.pipeline(TASK)
    assert TASK in tfmodels.pipelines.supported_tasks()


@pytest.fixture(scope="module")
def seq2seq(tmp_path_factory, speech):
    """The Speech2Text pipelines and the espeak-ng speech at 16 kHz (linear interpolation)."""
    _, spoken = speech
    path = build("speech2text", tmp_path_factory.mktemp("asr") / "speech2text")
    times = [np.arange(int(len(x) * 16000 / RATE)) / 16000 for x in spoken]
    at_16k = [np.interp(t, np.arange(len(x)) / RATE, x).astype("float32") for t, x in zip(times, spoken)]
    return (tfmodels.pipeline(TASK, model=path), transformers.pipeline(TASK, model=path)), at_16k


EAGER = {"jit_compile": False}  # one XLA compilation per input length would dominate the tests


@needs_espeak
def test_sequence_to_sequence_generates_as_the_reference(seq2seq):
    pipelines, at_16k = seq2seq
    assert type(pipelines[0].model).__name__ == "Speech2TextForConditionalGeneration"
    result = check(pipelines, at_16k, batch_size=2, max_new_tokens=5, ours_kwargs=EAGER)  # beam search, 5 beams
    assert all(r["text"] for r in result)
    ours, _ = pipelines
    with pytest.raises(ValueError, match="CTC models only"):
        ours(at_16k[1], chunk_length_s=1.0)
    with pytest.raises(ValueError, match="stride is only usable with CTC"):
        ours({"raw": at_16k[1], "sampling_rate": 16000, "stride": (10, 10)})


@needs_espeak
@pytest.mark.slow
def test_sequence_to_sequence_options(seq2seq):
    pipelines, at_16k = seq2seq
    check(pipelines, {"raw": at_16k[1], "sampling_rate": 16000, "id": 3}, generate_kwargs={"max_new_tokens": 5},
          num_beams=1, ours_kwargs=EAGER)
    check(pipelines, at_16k[0], max_new_tokens=4, do_sample=False, num_beams=3, ours_kwargs=EAGER)
    with pytest.raises(ValueError, match="num_return_sequences must be 1"):
        pipelines[0](at_16k[1], max_new_tokens=2, num_beams=2, num_return_sequences=2, jit_compile=False)
