"""Kaldi-compatible log-mel filter banks (`torchaudio.compliance.kaldi.fbank`'s defaults), in NumPy and in-graph.

Per 25 ms frame (400 samples at 16 kHz, hop 10 ms = 160 samples, no centring, frames
that fit only): the samples scaled to the 16-bit range (`* 32768`), optional dither,
the frame's mean removed (DC offset), pre-emphasis `x[t] - 0.97 x[t - 1]` (`x[0] * 0.03`),
the Povey window (`hann(400, symmetric) ** 0.85`), a 512-point real FFT, the power
spectrum, `num_mel_bins` triangular filters on Kaldi's mel scale (`1127 ln(1 + f / 700)`,
20 Hz to Nyquist, triangles in mel space), floored at float32's epsilon
(`1.192092955078125e-07`) and the natural log.

`fbank` is the NumPy path of `transformers`' `Speech2TextFeatureExtractor` when torchaudio
is not installed (`transformers.audio_utils.spectrogram`, float64 arithmetic, the FFT
rounded to complex64 as there), vectorised over frames. `fbank_in_graph` is the same
computation in TensorFlow ops (`tf.signal`), for SavedModels that take raw audio.

References:
    Povey et al., "The Kaldi Speech Recognition Toolkit", 2011 (`compute-fbank-feats`).
    Parity reference: `transformers.audio_utils` (`mel_filter_bank(mel_scale="kaldi",
    triangularize_in_mel_space=True)`, `window_function("povey")`, `spectrogram`).
"""

import numpy as np

FRAME_LENGTH = 400  # 25 ms at 16 kHz
HOP_LENGTH = 160  # 10 ms
FFT_LENGTH = 512
PREEMPHASIS = 0.97
MEL_FLOOR = 1.192092955078125e-07  # float32 epsilon, Kaldi's floor
INT16_SCALE = 2 ** 15  # Kaldi reads 16-bit integer samples


def kaldi_mel_filters(num_mel_bins, sampling_rate, min_frequency=20.0, num_frequency_bins=FFT_LENGTH // 2 + 1):
    """`(num_frequency_bins, num_mel_bins)` float64 triangular filters, triangles in Kaldi-mel space.

    Raises:
        ValueError: a filter with no frequency bin (too many mel bins for the FFT).
    """
    def to_mel(hertz):
        return 1127.0 * np.log(1.0 + hertz / 700.0)

    mel_freqs = np.linspace(to_mel(min_frequency), to_mel(sampling_rate // 2), num_mel_bins + 2)  # edges
    fft_mels = to_mel(sampling_rate / ((num_frequency_bins - 1) * 2) * np.arange(num_frequency_bins))
    slopes = mel_freqs[None, :] - fft_mels[:, None]  # (bins, num_mel_bins + 2)
    widths = np.diff(mel_freqs)
    down, up = -slopes[:, :-2] / widths[:-1], slopes[:, 2:] / widths[1:]
    filters = np.maximum(np.zeros(1), np.minimum(down, up))
    if (filters.max(axis=0) == 0.0).any():
        raise ValueError(f"num_mel_bins={num_mel_bins} leaves a mel filter without FFT bins at "
                         f"sampling_rate={sampling_rate}; use fewer mel bins.")
    return filters


def povey_window(length=FRAME_LENGTH):
    """Kaldi's Povey window: the symmetric Hann window to the power 0.85, float64 `(length,)`."""
    return np.power(np.hanning(length), 0.85)


def num_frames(num_samples):
    """Frames of `num_samples` samples (`1 + (n - 400) // 160`; 0 below one frame)."""
    return np.maximum(0, 1 + (np.asarray(num_samples) - FRAME_LENGTH) // HOP_LENGTH)


def fbank(waveform, mel_filters, dither=0.0):
    """Log-mel filter banks of one waveform.

    Args:
        waveform: float32 `(samples,)` in `[-1, 1]`.
        mel_filters: `kaldi_mel_filters(...)`.
        dither: float, Gaussian noise of this standard deviation (16-bit scale) added to each
            frame, drawn from NumPy's global generator as the reference does (0: none).

    Returns:
        float32 `(frames, num_mel_bins)`.

    Raises:
        ValueError: fewer samples than one frame (400).
    """
    waveform = np.asarray(waveform, dtype=np.float32) * INT16_SCALE  # float32, as the reference scales
    count = int(num_frames(waveform.shape[0]))
    if count < 1:
        raise ValueError(f"Kaldi filter banks need at least {FRAME_LENGTH} samples (one 25 ms frame). "
                         f"Received: {waveform.shape[0]} samples")
    samples = waveform.astype(np.float64)
    frames = np.lib.stride_tricks.sliding_window_view(samples, FRAME_LENGTH)[::HOP_LENGTH][:count].copy()
    if dither != 0.0:
        frames += dither * np.random.randn(count, FRAME_LENGTH)  # the reference's per-frame draws, in order
    frames -= frames.mean(axis=1, keepdims=True)  # DC offset
    frames[:, 1:] -= PREEMPHASIS * frames[:, :-1]  # the right side is evaluated first: the original samples
    frames[:, 0] *= 1 - PREEMPHASIS
    frames *= povey_window()
    spectrum = np.fft.rfft(frames, n=FFT_LENGTH, axis=1).astype(np.complex64)  # (frames, 257), as the reference
    power = np.abs(spectrum, dtype=np.float64) ** 2
    mel = np.maximum(MEL_FLOOR, np.dot(mel_filters.T, power.T))  # (num_mel_bins, frames)
    return np.ascontiguousarray(np.log(mel).astype(np.float32).T)  # C order: the CMVN sums as the reference


def fbank_in_graph(waveforms, lengths, mel_filters, normalize_means=True, normalize_vars=True, padding_value=0.0):
    """`fbank` of a padded batch plus `Speech2TextFeatureExtractor`'s utterance CMVN, in TensorFlow ops.

    XLA-compilable for a static number of samples. The filter banks are computed in float64
    (the FFT too, rounded to complex64 as the reference stores it), the normalisation in
    float32 with NumPy's order of additions (frame after frame). With `jit_compile=True` the
    features equal the NumPy extractor's bit for bit on the tests' real speech; without XLA
    (e.g. a SavedModel run by TF Serving's default graph executor) they differ by a float32
    ulp or so (the tests state the max difference).

    Args:
        waveforms: float tensor `(batch, samples)` in `[-1, 1]`, right-padded.
        lengths: int tensor `(batch,)`, real samples per row (each at least 400).
        mel_filters: `kaldi_mel_filters(...)`.
        normalize_means, normalize_vars: utterance-level mean / variance normalisation over
            each row's real frames (`do_ceptral_normalize=False`: pass both False).
        padding_value: float, the features of padded frames.

    Returns:
        `(input_features float32 (batch, frames, num_mel_bins), attention_mask int32 (batch,
        frames))`, `frames = 1 + (samples - 400) // 160`.
    """
    import tensorflow as tf

    x = tf.cast(tf.cast(waveforms, tf.float32) * INT16_SCALE, tf.float64)
    frames = tf.signal.frame(x, FRAME_LENGTH, HOP_LENGTH, pad_end=False)  # (batch, frames, 400)
    frames -= tf.reduce_mean(frames, axis=-1, keepdims=True)
    frames = tf.concat([frames[..., :1] * (1 - PREEMPHASIS), frames[..., 1:] - PREEMPHASIS * frames[..., :-1]], -1)
    frames *= tf.constant(povey_window(), tf.float64)
    padded = tf.pad(frames, [[0, 0], [0, 0], [0, FFT_LENGTH - FRAME_LENGTH]])
    spectrum = tf.signal.fft(tf.complex(padded, tf.zeros_like(padded)))[..., : FFT_LENGTH // 2 + 1]
    spectrum = tf.cast(tf.cast(spectrum, tf.complex64), tf.complex128)  # rounded as the reference stores it
    power = tf.square(tf.math.real(spectrum)) + tf.square(tf.math.imag(spectrum))  # (batch, frames, 257)
    mel = tf.maximum(tf.constant(MEL_FLOOR, tf.float64), tf.matmul(power, tf.constant(mel_filters, tf.float64)))
    features = tf.cast(tf.math.log(mel), tf.float32)  # (batch, frames, num_mel_bins), float32 as the reference
    counts = tf.maximum(0, 1 + (tf.cast(lengths, tf.int32) - FRAME_LENGTH) // HOP_LENGTH)  # (batch,)
    mask = tf.sequence_mask(counts, tf.shape(features)[1], dtype=tf.float32)[:, :, None]  # (batch, frames, 1)
    n = tf.cast(counts, tf.float32)[:, None, None]

    def mean(x):
        # NumPy's float32 `x[:n].mean(axis=0)`: the frames added one after the other (its reduction over a
        # non-contiguous axis), then divided; padded frames add exact zeros.
        frames_first = tf.transpose(x * mask, [1, 0, 2])  # (frames, batch, num_mel_bins)
        total = tf.foldl(lambda acc, frame: acc + frame, frames_first, initializer=tf.zeros_like(frames_first[0]))
        return total[:, None, :] / n

    if normalize_means:
        features -= mean(features)
    if normalize_vars:
        centered = features - mean(features)
        features /= tf.sqrt(mean(centered * centered))
    features = tf.where(mask > 0, features, tf.cast(padding_value, tf.float32))
    return features, tf.cast(mask[:, :, 0], tf.int32)
