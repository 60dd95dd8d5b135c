"""Raw-audio preprocessing from `preprocessor_config.json`: padding, per-example normalisation,
Kaldi filter banks (`Speech2TextFeatureExtractor`).

`Wav2Vec2FeatureExtractor` gives the arrays of `transformers`'
`Wav2Vec2FeatureExtractor` (NumPy, float32): each waveform is truncated /
right-padded with `padding_value` as asked, then (`do_normalize`) shifted and
scaled to zero mean and unit variance over its real samples,
`(x - mean) / sqrt(var + 1e-7)`, padding set back to `padding_value`. As in
the reference, the statistics cover only the real samples when the
attention mask is returned (`return_attention_mask`) and padding is asked
for; otherwise the whole (padded) row.

`normalize_in_graph` is the same normalisation in TensorFlow ops, for
SavedModels that take raw padded audio and its mask.

Audio files are decoded elsewhere (`soundfile.read(path, dtype="float32")`);
tfmodels has no audio decoder or resampler of its own.

References:
    `transformers.models.wav2vec2.feature_extraction_wav2vec2` and
    `transformers.feature_extraction_sequence_utils.SequenceFeatureExtractor`
    (the parity reference).
"""

import numpy as np

from tfmodels.processors.fbank import fbank, fbank_in_graph, kaldi_mel_filters
from tfmodels.processors.image import read_preprocessor_config

PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
VARIANCE_EPSILON = 1e-7


def _strategy(padding, max_length):
    if padding is True:
        padding = "longest"
    elif padding is False or padding is None:
        padding = "do_not_pad"
    if padding not in PADDING_STRATEGIES:
        raise ValueError(f"padding must be True, False or one of {list(PADDING_STRATEGIES)}. Received: {padding!r}")
    if padding == "max_length" and max_length is None:
        raise ValueError("padding='max_length' needs max_length.")
    return padding


def _round_up(length, multiple):
    if length is not None and multiple is not None and length % multiple:
        length = (length // multiple + 1) * multiple
    return length


def _as_batch(raw_speech):
    """A list of float32 1-D waveforms from one waveform, a list of them or a 2-D batch array.

    Raises:
        ValueError: a 3-D array or a waveform that is not 1-D (stereo).
    """
    if isinstance(raw_speech, np.ndarray) and raw_speech.ndim > 2:
        raise ValueError(f"Only mono audio is supported: a 1-D waveform or a batch (batch, samples). "
                         f"Received: shape {raw_speech.shape}")
    batched = (isinstance(raw_speech, np.ndarray) and raw_speech.ndim == 2) or (
        isinstance(raw_speech, (list, tuple)) and len(raw_speech) and isinstance(raw_speech[0], (np.ndarray, list,
                                                                                                 tuple)))
    items = list(raw_speech) if batched else [raw_speech]
    batch = []
    for x in items:
        x = np.asarray(x)
        if x.ndim != 1:
            raise ValueError(f"Each waveform must be 1-D (mono samples). Received: shape {x.shape}")
        batch.append(x.astype(np.float32))
    return batch


def _pad_batch(batch, strategy, max_length, truncation, pad_to_multiple_of, padding_value, padding_side, what):
    """Truncates and pads arrays on their first axis, as `SequenceFeatureExtractor.pad`.

    Args:
        batch: list of arrays `(length, ...)` (samples, or frames of features).
        strategy: a `_strategy` result; `max_length`, `truncation`, `pad_to_multiple_of`: the call's.
        padding_value: float, the value of padded positions; `padding_side`: `"right"` / `"left"`.
        what: the rows' name for the error message.

    Returns:
        `(values, masks)`: lists of the padded arrays and of their int32 masks `(padded_length,)`.

    Raises:
        ValueError: `truncation` without `max_length`; rows of different lengths left unpadded.
    """
    if truncation:
        if max_length is None:
            raise ValueError("truncation=True needs max_length.")
        limit = _round_up(max_length, pad_to_multiple_of)
        batch = [x[:limit] for x in batch]
    lengths = [len(x) for x in batch]
    target = max(lengths) if strategy == "longest" else max_length
    target = _round_up(target, pad_to_multiple_of) if strategy != "do_not_pad" else None
    values, masks = [], []
    for x in batch:
        extra = 0 if target is None else max(target - len(x), 0)
        pad = (0, extra) if padding_side == "right" else (extra, 0)
        mask = np.ones(len(x), np.int32)
        if extra:
            x = np.pad(x, (pad, *((0, 0),) * (x.ndim - 1)), constant_values=padding_value)
            mask = np.pad(mask, pad)
        values.append(x)
        masks.append(mask)
    if len({len(v) for v in values}) != 1:
        raise ValueError(f"The {what} have different lengths {sorted(set(lengths))}; pass padding=True "
                         "(with attention_mask) to batch them.")
    return values, masks


class _FeatureExtractor:
    """What the audio feature extractors share: construction from `preprocessor_config.json`."""

    @classmethod
    def from_pretrained(cls, directory, **overrides):
        """Reads `preprocessor_config.json` from a local checkpoint directory (or the file itself).

        Raises:
            FileNotFoundError: no `preprocessor_config.json` there.
        """
        return cls(**{**read_preprocessor_config(directory, "feature extractor", cls.__name__), **overrides})


class Wav2Vec2FeatureExtractor(_FeatureExtractor):
    """Turns mono waveforms into `input_values` (and `attention_mask`) for the speech models.

    Args (the `preprocessor_config.json` fields):
        feature_size: int, must be 1 (mono samples).
        sampling_rate: int, the rate the model was trained at (checked when a call passes one).
        padding_value: float, the value of padded samples.
        do_normalize: bool, zero-mean unit-variance normalisation per example.
        return_attention_mask: bool, default of the call argument.
        padding_side: `"right"` (default) or `"left"`.
        Other fields are kept in `extra_config`.

    Call args:
        raw_speech: a 1-D float array / list of floats, or a list of them, or a 2-D array (a batch).
        padding: `False` (default), `True` / `"longest"`, `"max_length"` or `"do_not_pad"`.
        max_length: int, for `"max_length"` padding and truncation.
        truncation: bool, cut examples longer than `max_length`.
        pad_to_multiple_of: optional int, round the padded length up.
        return_attention_mask: optional bool, default `return_attention_mask`.
        sampling_rate: optional int, refused when it differs from the model's.

    Returns:
        `{"input_values": float32 (batch, samples)}` plus `"attention_mask":
        int32 (batch, samples)` when asked.

    Raises:
        ValueError: unequal lengths without padding, a stereo / 3-D input, a
            wrong `sampling_rate`, `truncation` without `max_length`, an unknown padding.
    """

    model_input_names = ("input_values", "attention_mask")

    def __init__(self, feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                 return_attention_mask=False, padding_side="right", **extra_config):
        if feature_size != 1:
            raise ValueError(f"Wav2Vec2FeatureExtractor takes mono samples (feature_size=1). "
                             f"Received: feature_size={feature_size}")
        if padding_side not in ("right", "left"):
            raise ValueError(f"padding_side must be 'right' or 'left'. Received: {padding_side!r}")
        self.feature_size = feature_size
        self.sampling_rate = sampling_rate
        self.padding_value = padding_value
        self.do_normalize = do_normalize
        self.return_attention_mask = return_attention_mask
        self.padding_side = padding_side
        self.extra_config = extra_config

    def to_dict(self):
        """The `preprocessor_config.json` fields."""
        return {"feature_extractor_type": "Wav2Vec2FeatureExtractor", "feature_size": self.feature_size,
                "sampling_rate": self.sampling_rate, "padding_value": self.padding_value,
                "do_normalize": self.do_normalize, "return_attention_mask": self.return_attention_mask,
                "padding_side": self.padding_side, **{k: v for k, v in self.extra_config.items()
                                                      if k != "feature_extractor_type"}}

    def __call__(self, raw_speech, padding=False, max_length=None, truncation=False, pad_to_multiple_of=None,
                 return_attention_mask=None, sampling_rate=None):
        if sampling_rate is not None and sampling_rate != self.sampling_rate:
            raise ValueError(f"The model's feature extractor takes audio sampled at {self.sampling_rate} Hz. "
                             f"Received: sampling_rate={sampling_rate}; resample the audio first.")
        batch = _as_batch(raw_speech)
        strategy = _strategy(padding, max_length)
        with_mask = self.return_attention_mask if return_attention_mask is None else return_attention_mask
        values, masks = _pad_batch(batch, strategy, max_length, truncation, pad_to_multiple_of, self.padding_value,
                                   self.padding_side, "waveforms")
        if self.do_normalize:
            use_mask = with_mask and strategy != "do_not_pad"
            values = self.zero_mean_unit_var_norm(values, masks if use_mask else None, self.padding_value)
        outputs = {"input_values": np.stack(values).astype(np.float32)}
        if with_mask:
            outputs["attention_mask"] = np.stack(masks).astype(np.int32)
        return outputs

    @staticmethod
    def zero_mean_unit_var_norm(input_values, attention_mask=None, padding_value=0.0):
        """Normalises each float32 array over its first `sum(mask)` samples (all without a mask),
        `(x - mean) / sqrt(var + 1e-7)`, padding set to `padding_value` (right padding)."""
        if attention_mask is None:
            return [(x - x.mean()) / np.sqrt(x.var() + VARIANCE_EPSILON) for x in input_values]
        normed = []
        for x, mask in zip(input_values, attention_mask):
            length = int(np.asarray(mask, np.int32).sum())
            row = (x - x[:length].mean()) / np.sqrt(x[:length].var() + VARIANCE_EPSILON)
            if length < row.shape[0]:
                row[length:] = padding_value
            normed.append(row)
        return normed


def normalize_in_graph(input_values, attention_mask=None, padding_value=0.0):
    """`Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm` in TensorFlow ops (XLA-compilable, for SavedModels).

    Args:
        input_values: float tensor `(batch, samples)`, right-padded.
        attention_mask: optional 0/1 tensor `(batch, samples)`; `None` normalises whole rows.
        padding_value: float, the value of padded samples in the output.

    Returns:
        float32 tensor `(batch, samples)`. The mean and variance are float32
        sums divided by the count, so they can differ from NumPy's pairwise
        float32 sums in the last bits (the test states the max difference).
    """
    import tensorflow as tf

    x = tf.cast(input_values, tf.float32)
    mask = tf.ones_like(x) if attention_mask is None else tf.cast(attention_mask, tf.float32)
    count = tf.reduce_sum(mask, axis=-1, keepdims=True)
    mean = tf.reduce_sum(x * mask, axis=-1, keepdims=True) / count
    variance = tf.reduce_sum(tf.square(x - mean) * mask, axis=-1, keepdims=True) / count
    normed = (x - mean) / tf.sqrt(variance + VARIANCE_EPSILON)
    return tf.where(mask > 0, normed, tf.cast(padding_value, tf.float32))


class Speech2TextFeatureExtractor(_FeatureExtractor):
    """Turns mono 16 kHz waveforms into Kaldi log-mel `input_features` and their frame `attention_mask`.

    Each waveform becomes `tfmodels.processors.fbank.fbank` frames `(frames, num_mel_bins)`
    (25 ms windows every 10 ms); the batch is truncated / right-padded on the frame axis with
    `padding_value` as asked; then (`do_ceptral_normalize`) each example is normalised over
    its real frames (utterance CMVN: minus the mean with `normalize_means`, divided by the
    standard deviation with `normalize_vars`, in float32), padded frames set back to
    `padding_value`. These are the arrays of `transformers`' `Speech2TextFeatureExtractor`
    on its NumPy path (without torchaudio). One difference: with padding and
    `return_attention_mask=False` the reference fails; here the statistics still cover the
    real frames only, and no mask is returned.

    Args (the `preprocessor_config.json` fields):
        feature_size: int, the feature width the model reads (equal to `num_mel_bins`).
        sampling_rate: int, the rate of the audio (checked when a call passes one).
        num_mel_bins: int, mel filters.
        padding_value: float, the features of padded frames.
        dither: float, Gaussian dither (16-bit scale; 0 = none, the default).
        do_ceptral_normalize, normalize_means, normalize_vars: bool, utterance CMVN.
        return_attention_mask: bool, default of the call argument (the reference always
            defaults to True, whatever the file says; so does this class).
        padding_side: `"right"` (default) or `"left"`.
        Other fields are kept in `extra_config`.

    Call args:
        raw_speech: a 1-D float waveform, a list of them, or a 2-D array (a batch), in `[-1, 1]`.
        padding, max_length, truncation, pad_to_multiple_of: as `Wav2Vec2FeatureExtractor`
            (counted in frames).
        return_attention_mask: optional bool.
        sampling_rate: optional int, refused when it differs from the extractor's.

    Returns:
        `{"input_features": float32 (batch, frames, num_mel_bins)}` plus `"attention_mask":
        int32 (batch, frames)` when asked.

    Raises:
        ValueError: a waveform shorter than 400 samples (one frame), unequal lengths without
            padding, stereo input, a wrong `sampling_rate`, `truncation` without `max_length`,
            too many mel bins for the FFT.

    References:
        `transformers.models.speech_to_text.feature_extraction_speech_to_text.Speech2TextFeatureExtractor`.
    """

    model_input_names = ("input_features", "attention_mask")

    def __init__(self, feature_size=80, sampling_rate=16000, num_mel_bins=80, padding_value=0.0, dither=0.0,
                 do_ceptral_normalize=True, normalize_means=True, normalize_vars=True, return_attention_mask=True,
                 padding_side="right", **extra_config):
        if padding_side not in ("right", "left"):
            raise ValueError(f"padding_side must be 'right' or 'left'. Received: {padding_side!r}")
        self.feature_size = feature_size
        self.sampling_rate = sampling_rate
        self.num_mel_bins = num_mel_bins
        self.padding_value = padding_value
        self.dither = dither
        self.do_ceptral_normalize = do_ceptral_normalize
        self.normalize_means = normalize_means
        self.normalize_vars = normalize_vars
        self.return_attention_mask = True  # as the reference, which overrides the file's value
        self.padding_side = padding_side
        self.extra_config = extra_config
        self.mel_filters = kaldi_mel_filters(num_mel_bins, sampling_rate)

    def to_dict(self):
        """The `preprocessor_config.json` fields."""
        return {"feature_extractor_type": "Speech2TextFeatureExtractor", "feature_size": self.feature_size,
                "sampling_rate": self.sampling_rate, "num_mel_bins": self.num_mel_bins,
                "padding_value": self.padding_value, "dither": self.dither,
                "do_ceptral_normalize": self.do_ceptral_normalize, "normalize_means": self.normalize_means,
                "normalize_vars": self.normalize_vars, "return_attention_mask": self.return_attention_mask,
                "padding_side": self.padding_side,
                **{k: v for k, v in self.extra_config.items() if k != "feature_extractor_type"}}

    def __call__(self, raw_speech, padding=False, max_length=None, truncation=False, pad_to_multiple_of=None,
                 return_attention_mask=None, sampling_rate=None):
        if sampling_rate is not None and sampling_rate != self.sampling_rate:
            raise ValueError(f"The model's feature extractor takes audio sampled at {self.sampling_rate} Hz. "
                             f"Received: sampling_rate={sampling_rate}; resample the audio first.")
        strategy = _strategy(padding, max_length)
        with_mask = self.return_attention_mask if return_attention_mask is None else return_attention_mask
        features = [fbank(x, self.mel_filters, self.dither) for x in _as_batch(raw_speech)]
        values, masks = _pad_batch(features, strategy, max_length, truncation, pad_to_multiple_of,
                                   self.padding_value, self.padding_side, "feature sequences")
        if self.do_ceptral_normalize:
            lengths = [int(m.sum()) if strategy != "do_not_pad" else len(v) for v, m in zip(values, masks)]
            values = [self.utterance_cmvn(v, n, self.normalize_means, self.normalize_vars, self.padding_value)
                      for v, n in zip(values, lengths)]
        outputs = {"input_features": np.stack(values).astype(np.float32)}
        if with_mask:
            outputs["attention_mask"] = np.stack(masks).astype(np.int32)
        return outputs

    @staticmethod
    def utterance_cmvn(x, input_length, normalize_means=True, normalize_vars=True, padding_value=0.0):
        """Normalises float32 frames `x (frames, features)` over the first `input_length` (right padding).

        The reference's float32 NumPy arithmetic: `x - mean`, then `/ std` (population), both over the
        real frames; frames after them set to `padding_value`.
        """
        if normalize_means:
            x = np.subtract(x, x[:input_length].mean(axis=0))
        if normalize_vars:
            x = np.divide(x, x[:input_length].std(axis=0))
        if input_length < x.shape[0]:
            x[input_length:] = padding_value
        return x.astype(np.float32)

    def in_graph(self):
        """`fn(waveforms (batch, samples), lengths (batch,)) -> (input_features, attention_mask)`: this
        extractor in TensorFlow ops (`tfmodels.processors.fbank.fbank_in_graph`), for SavedModels taking raw
        right-padded audio. Dither is not applied in-graph.

        Raises:
            ValueError: `dither` set (its random draws are NumPy's).
        """
        if self.dither:
            raise ValueError(f"The in-graph filter banks do not dither. Received: dither={self.dither}")
        normalize = self.do_ceptral_normalize
        filters = self.mel_filters

        def extract(waveforms, lengths):
            return fbank_in_graph(waveforms, lengths, filters, normalize and self.normalize_means,
                                  normalize and self.normalize_vars, self.padding_value)

        return extract
