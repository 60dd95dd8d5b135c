"""`automatic-speech-recognition` with CTC models (`Wav2Vec2ForCTC`) and speech encoder-decoders
(`Speech2TextForConditionalGeneration`), in the `transformers` output format.

Reference: `transformers.pipelines.automatic_speech_recognition` (v5.24),
whose inputs, parameters, chunking and results this follows. CTC models:
the feature extractor turns each waveform (or each `chunk_length_s` window)
into `input_values` and an `attention_mask`; the model's logits are reduced
by argmax; the frames of the windows' strides are dropped; the tokenizer
(`Wav2Vec2CTCTokenizer`) decodes the frames, merging repeats and dropping the
blank (pad) token. Sequence-to-sequence models: the feature extractor
(`Speech2TextFeatureExtractor`) gives `input_features`, tfmodels'
`generate()` decodes them (options the checkpoint's generation config does
not set default to the reference's `max_new_tokens=256, num_beams=5`), and
the tokenizer decodes the tokens without special tokens.

Differences from the reference:

- Audio files and bytes are decoded with `soundfile` (the `audio` extra:
  WAV, FLAC, OGG/Vorbis, MP3 with libsndfile >= 1.1, ... as libsndfile
  reads them), not the `ffmpeg` program; channels are averaged to mono.
- There is no resampler: audio at another rate than the feature
  extractor's `sampling_rate` (a file, or a `{"sampling_rate": ...}` dict)
  is refused with an error naming both rates (the reference resamples with
  `torchaudio`).
- Not supported: language-model decoding (`decoder=`, pyctcdecode),
  `chunk_length_s` and `stride` for sequence-to-sequence models (the
  reference's "very experimental" merge of overlapping windows), Whisper.
- Unknown keywords are refused (the reference passes them to `generate()`,
  where CTC models ignore them).
"""

import io
import os

import numpy as np

from tfmodels import auto
from tfmodels.pipelines.base import Pipeline
from tfmodels.pipelines.generation import generated_ids, with_pipeline_defaults
from tfmodels.pipelines.text import model_config

# `AutomaticSpeechRecognitionPipeline._default_generation_config` of the reference: for the options neither
# the call nor the checkpoint sets.
SEQ2SEQ_GENERATION_DEFAULTS = {"max_new_tokens": 256, "num_beams": 5}


def read_audio(source, sampling_rate, timeout=None):
    """A mono float32 waveform from a file path, an `http(s)://` URL or the bytes of an audio file.

    Args:
        source: `str` path or URL, or `bytes` (a whole file).
        sampling_rate: int, the rate the audio must have (the feature extractor's).
        timeout: seconds to wait for a URL (`None`: no limit).

    Returns:
        float32 array `(samples,)`, channels averaged.

    Raises:
        ImportError: `soundfile` is not installed (`pip install tfmodels[audio]`).
        FileNotFoundError: no such file.
        ValueError: data soundfile cannot decode, or audio at another sampling rate.
    """
    try:
        import soundfile
    except ImportError:
        raise ImportError("Reading audio files needs soundfile (the `audio` extra: pip install 'tfmodels[audio]'), "
                          "or pass the waveform as a float numpy array.") from None
    name = "the audio bytes"
    if isinstance(source, str):
        if source.startswith(("http://", "https://")):
            import httpx

            name, source = source, httpx.get(source, timeout=timeout, follow_redirects=True).content
        else:
            if not os.path.isfile(source):
                raise FileNotFoundError(f"No audio file at {source!r}.")
            with open(source, "rb") as f:
                name, source = repr(source), f.read()
    try:
        waveform, rate = soundfile.read(io.BytesIO(source), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError / TypeError by version
        raise ValueError(f"soundfile cannot decode {name} ({e}). It reads the formats of libsndfile (WAV, FLAC, "
                         "OGG, MP3, ...); convert the audio, or pass the waveform as a float numpy array.") from None
    if rate != sampling_rate:
        raise ValueError(f"{name} is sampled at {rate} Hz but the model's feature extractor takes {sampling_rate} "
                         "Hz. tfmodels does not resample: resample the audio first (e.g. ffmpeg -ar "
                         f"{sampling_rate}, or librosa / torchaudio) and pass the waveform.")
    return waveform.mean(axis=1)  # (samples, channels) -> (samples,)


def to_mono(waveform):
    """`(samples,)` as is, `(channels, samples)` with 1 or 2 channels averaged (the reference's `_to_mono`).

    Raises:
        ValueError: more dimensions, or more than 2 rows (a channels-last array must be transposed first).
    """
    if waveform.ndim == 1:
        return waveform
    if waveform.ndim != 2:
        raise ValueError(f"automatic-speech-recognition takes mono audio (samples,) or (channels, samples). "
                         f"Received: shape {waveform.shape}")
    if waveform.shape[0] > 2:
        raise ValueError(f"Axis 0 is read as channels and has size {waveform.shape[0]} (shape {waveform.shape}). A "
                         "channels-last (samples, channels) array, as soundfile.read returns, must be transposed "
                         "first; more than 2 channels must be downmixed by the caller.")
    return waveform.mean(axis=0)


def rescale_stride(stride, ratio):
    """`(samples, left, right)` in samples -> in logit frames (`ratio` = frames per sample), as the reference."""
    samples, left, right = stride
    frames = int(round(samples * ratio))
    return frames, int(round(left / samples * frames)), int(round(right / samples * frames))


class AutomaticSpeechRecognitionPipeline(Pipeline):
    """`automatic-speech-recognition` with a CTC model (`Wav2Vec2ForCTC`) or a speech encoder-decoder
    (`Speech2TextForConditionalGeneration`, decoded with `generate()`).

    Call with one input or a list of them:

    - a float waveform `np.ndarray` `(samples,)` (or `(channels, samples)`,
      up to 2 channels, averaged) at the feature extractor's `sampling_rate`;
    - a dict `{"raw": array, "sampling_rate": int}` (or `"array"` for
      `"raw"`, as `datasets` names it), optionally with `"stride": (left,
      right)` samples whose frames are dropped from the text; other keys come
      back in the result as lists (one entry per chunk);
    - a file path, an `http(s)://` URL or the bytes of an audio file (read
      with `soundfile`, see the module docstring).

    Parameters: `chunk_length_s` (float seconds: transcribe in windows of
    that length, `stride_length_s` (float or `(left, right)`, default
    `chunk_length_s / 6`) of them overlapping the neighbours and dropped from
    the logits), `return_timestamps` (`"char"` or `"word"`: adds `"chunks"`,
    `[{"text": str, "timestamp": (start_s, end_s)}]`), `timeout` (URLs);
    the last three for CTC models only. Sequence-to-sequence models take any
    `generate()` option (`max_new_tokens`, `num_beams`, ..., or a dict
    `generate_kwargs`).

    Batches (`batch_size`) are padded with the feature extractor's
    `padding_value` and the attention mask is 0 there, as the reference
    collates; as there, the frames of the padding are decoded too, so a
    batched result can differ from the unbatched one by the frames past the
    end of a shorter input.

    Returns:
        per input `{"text": str}` (plus `"chunks"` with timestamps).

    Raises:
        ValueError: no feature extractor or tokenizer; `decoder=`; a dict
            without `"raw"`/`"array"` and `"sampling_rate"`; a sampling rate
            other than the feature extractor's; a stride longer than the
            audio; `chunk_length_s` shorter than its strides; another
            `return_timestamps`; chunking, strides or timestamps with a
            sequence-to-sequence model; more than one returned sequence.
        TypeError: another kind of input; `generate()` options for a CTC model.
    """

    default_task = "automatic-speech-recognition"
    uses_feature_extractor = True

    def __init__(self, model, tokenizer=None, feature_extractor=None, decoder=None, **kwargs):
        if decoder is not None:
            raise ValueError("Language-model CTC decoding (decoder=, pyctcdecode) is not supported by tfmodels: "
                             "decode the logits with pyctcdecode yourself, or drop decoder= for greedy decoding.")
        self.type = "seq2seq" if isinstance(model, tuple(auto.MODEL_REGISTRIES["speech-seq2seq"].values())) else "ctc"
        if feature_extractor is None or tokenizer is None:
            raise ValueError("AutomaticSpeechRecognitionPipeline needs feature_extractor= (e.g. tfmodels.processors."
                             "Wav2Vec2FeatureExtractor.from_pretrained(checkpoint_directory)) and tokenizer= (e.g. "
                             "transformers.AutoTokenizer.from_pretrained(checkpoint_directory)).")
        super().__init__(model, tokenizer, feature_extractor=feature_extractor, **kwargs)

    def __call__(self, inputs=None, **kwargs):
        if inputs is None:
            raise ValueError("Cannot call the automatic-speech-recognition pipeline without audio (inputs=).")
        return super().__call__(inputs, **kwargs)

    @property
    def samples_per_frame(self):
        """Audio samples per logit frame (`inputs_to_logits_ratio`: the product of `conv_stride`)."""
        return int(np.prod(model_config(self.model)["conv_stride"]))

    def _sanitize_parameters(self, chunk_length_s=None, stride_length_s=None, return_timestamps=None, timeout=None,
                             ignore_warning=None, generate_kwargs=None, **options):
        del ignore_warning  # the reference's switch for a seq2seq chunking warning
        pre, post = {}, {}
        forward = {**(generate_kwargs or {}), **options}
        if self.type == "ctc" and forward:
            raise TypeError(f"{type(self.model).__name__} is a CTC model: generate() options {sorted(forward)} apply "
                            "to sequence-to-sequence models only.")
        if self.type == "seq2seq" and (chunk_length_s or stride_length_s is not None or return_timestamps):
            raise ValueError("chunk_length_s, stride_length_s and return_timestamps are supported for CTC models "
                             f"only, not for {type(self.model).__name__}: transcribe shorter audio.")
        if chunk_length_s is not None:
            pre["chunk_length_s"] = chunk_length_s
        if stride_length_s is not None:
            pre["stride_length_s"] = stride_length_s
        if timeout is not None:
            pre["timeout"] = timeout
        if return_timestamps is not None:
            if return_timestamps not in ("char", "word"):
                raise ValueError("CTC can either predict character level timestamps, or word level timestamps: "
                                 "set return_timestamps='char' or 'word'. Received: "
                                 f"return_timestamps={return_timestamps!r}")
            post["return_timestamps"] = return_timestamps
        return pre, forward, post

    def _waveform(self, inputs, timeout):
        """`(waveform, stride in samples or None, extra keys)` of one input."""
        rate = self.feature_extractor.sampling_rate
        if isinstance(inputs, (str, bytes)):
            inputs = read_audio(inputs, rate, timeout)
        stride, extra = None, {}
        if isinstance(inputs, dict):
            inputs = dict(inputs)
            stride = inputs.pop("stride", None)
            if "sampling_rate" not in inputs or not ("raw" in inputs or "array" in inputs):
                raise ValueError('A dict input needs a "raw" (or "array") key holding the waveform and a '
                                 f'"sampling_rate" key. Received keys: {sorted(inputs)}')
            waveform = inputs.pop("raw", None)
            if waveform is None:
                inputs.pop("path", None)
                waveform = inputs.pop("array")
            in_rate = inputs.pop("sampling_rate")
            extra = inputs
            if in_rate != rate:
                raise ValueError(f"The audio is sampled at {in_rate} Hz but the model's feature extractor takes {rate} "
                                 "Hz. tfmodels does not resample (the reference uses torchaudio): resample the audio "
                                 f"first and pass sampling_rate={rate}.")
            inputs = waveform
        if hasattr(inputs, "numpy") and not isinstance(inputs, np.ndarray):  # a tf.Tensor
            inputs = inputs.numpy()
        if not isinstance(inputs, np.ndarray):
            raise TypeError("automatic-speech-recognition takes a float numpy array, a {'raw': ..., 'sampling_rate': "
                            f"...}} dict, a file path, a URL or bytes. Received: {type(inputs).__name__}")
        inputs = to_mono(inputs)
        if stride is not None:
            if self.type == "seq2seq":
                raise ValueError("A stride is only usable with CTC models: remove the 'stride' key.")
            if stride[0] + stride[1] > inputs.shape[0]:
                raise ValueError(f"The stride {tuple(stride)} is longer than the audio ({inputs.shape[0]} samples).")
            stride = (inputs.shape[0], int(round(stride[0])), int(round(stride[1])))
        return inputs, stride, extra

    def _features(self, waveform, **fields):
        processed = self.feature_extractor(waveform, sampling_rate=self.feature_extractor.sampling_rate,
                                           return_attention_mask=True)
        return {**{k: np.asarray(v[0]) for k, v in processed.items()}, **fields}

    def preprocess(self, inputs, chunk_length_s=0, stride_length_s=None, timeout=None):
        waveform, stride, extra = self._waveform(inputs, timeout)
        if not chunk_length_s:
            return [self._features(waveform, stride=stride, **extra)]
        if stride_length_s is None:
            stride_length_s = chunk_length_s / 6
        if isinstance(stride_length_s, (int, float)):
            stride_length_s = [stride_length_s, stride_length_s]
        align, rate = self.samples_per_frame, self.feature_extractor.sampling_rate
        chunk_len = int(round(chunk_length_s * rate / align) * align)
        left, right = (int(round(s * rate / align) * align) for s in stride_length_s)
        if chunk_len < left + right:
            raise ValueError(f"chunk_length_s must be longer than its two strides. Received: chunk_length_s="
                             f"{chunk_length_s}, stride_length_s={list(stride_length_s)}")
        return list(self._chunks(waveform, chunk_len, left, right, extra))

    def _chunks(self, waveform, chunk_len, stride_left, stride_right, extra):
        """The reference's `chunk_iter`: windows of `chunk_len` samples stepping by `chunk_len - strides`."""
        total = waveform.shape[0]
        for start in range(0, total, chunk_len - stride_left - stride_right):
            chunk = waveform[start:start + chunk_len]
            is_last = start + chunk_len >= total
            stride = (chunk.shape[0], 0 if start == 0 else stride_left, 0 if is_last else stride_right)
            if chunk.shape[0] > stride[1]:
                yield self._features(chunk, stride=stride, **extra)
            if is_last:
                break

    def _forward(self, batch, **generate_kwargs):
        if self.type == "ctc":
            logits = self.model_outputs(batch)["logits"]  # (batch, frames, vocab_size)
            return {"tokens": np.argmax(logits, axis=-1)}
        options = with_pipeline_defaults(self.model, generate_kwargs, SEQ2SEQ_GENERATION_DEFAULTS)[0]
        main = self.model.main_input_name
        tokens = generated_ids(self.model.generate(batch[main], attention_mask=batch.get("attention_mask"), **options))
        if len(tokens) != len(batch[main]):
            raise ValueError("automatic-speech-recognition returns one transcription per input: num_return_sequences "
                             f"must be 1. Received: num_return_sequences={len(tokens) // len(batch[main])}")
        return {"tokens": tokens}  # (batch, generated_len)

    def postprocess(self, chunk_outputs, return_timestamps=None):
        if self.type == "seq2seq":
            result = {"text": self.tokenizer.decode(chunk_outputs[0]["tokens"], skip_special_tokens=True)}
            return self._with_extra(result, chunk_outputs)
        pieces = []
        for output in chunk_outputs:
            tokens = output["tokens"]
            if output["stride"] is not None:
                frames, left, right = rescale_stride(output["stride"], 1 / self.samples_per_frame)
                tokens = tokens[left:frames - right]  # frames may be fewer than the padded row
            pieces.append(tokens)
        tokens = np.concatenate(pieces)
        text = self.tokenizer.decode(tokens, skip_special_tokens=False)
        result = {"text": text}
        if return_timestamps:
            decoded = self.tokenizer.decode(tokens, skip_special_tokens=False, output_char_offsets=True,
                                            output_word_offsets=return_timestamps == "word")
            offsets = decoded[f"{return_timestamps}_offsets"]
            align, rate = self.samples_per_frame, self.feature_extractor.sampling_rate
            result["chunks"] = [{"text": item[return_timestamps],
                                 "timestamp": (item["start_offset"] * align / rate, item["end_offset"] * align / rate)}
                                for item in offsets]
        return self._with_extra(result, chunk_outputs)

    @staticmethod
    def _with_extra(result, chunk_outputs):
        """The input dict's other keys, one entry per chunk, as the reference returns them."""
        skip = {"stride", "tokens", "input_values", "attention_mask", "input_features"}
        for output in chunk_outputs:
            for key, value in output.items():
                if key not in skip:
                    result.setdefault(key, []).append(value)
        return result
