"""Product quantisation with Gumbel-softmax codebook selection (wav2vec 2.0's quantizer)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfmodels")
class GumbelVectorQuantizer(keras.layers.Layer):
    """Maps each frame to the concatenation of one codevector per codebook group.

    A linear layer `weight_proj` scores the `V` entries of each of the `G`
    groups; the chosen entry of each group is a one-hot vector: the argmax at
    inference, a straight-through hard Gumbel-softmax sample (temperature
    `temperature`) in training. The output is `concat_g(codevectors[g, chosen_g])`.
    The perplexity of the codebook usage (the diversity measure of the paper)
    is computed over the frames selected by `mask_time_indices` (all when
    `None`) from the one-hot choices at inference and the softmax in training.

    Variables: `weight_proj` (Dense `C -> G * V`), `codevectors (G * V, codevector_dim / G)`.

    Args:
        num_groups: int, `G` (`num_codevector_groups`).
        num_vars: int, `V` (`num_codevectors_per_group`).
        codevector_dim: int, output width, a multiple of `G`.
        temperature: float, Gumbel-softmax temperature in training (the reference's 2).
        seed: optional int, seed of the Gumbel noise.
        **kwargs: base layer arguments.

    Call args:
        x: float tensor `(B, T, C)`, the (normalised) extracted features.
        mask_time_indices: optional bool tensor `(B, T)`.
        training: bool, sample with Gumbel noise instead of the argmax.

    Returns:
        `(codevectors (B, T, codevector_dim), perplexity ())`, float32 perplexity.

    Raises:
        ValueError: `codevector_dim` not a multiple of `num_groups`.

    References:
        Jang et al., "Categorical Reparameterization with Gumbel-Softmax", 2017;
        Baevski et al., "wav2vec 2.0", 2020. Parity reference:
        `transformers.models.wav2vec2.modeling_wav2vec2.Wav2Vec2GumbelVectorQuantizer`.
    """

    def __init__(self, num_groups, num_vars, codevector_dim, temperature=2.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if codevector_dim % num_groups:
            raise ValueError(f"codevector_dim must be divisible by num_codevector_groups. Received: "
                             f"codevector_dim={codevector_dim}, num_codevector_groups={num_groups}")
        self.num_groups = num_groups
        self.num_vars = num_vars
        self.codevector_dim = codevector_dim
        self.temperature = temperature
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.weight_proj = keras.layers.Dense(num_groups * num_vars, kernel_initializer=keras.initializers.RandomNormal(
            stddev=1.0), dtype=self.dtype_policy, name="weight_proj")

    def build(self, input_shape):
        self.weight_proj.build(input_shape)
        self.codevectors = self.add_weight(
            name="codevectors", shape=(self.num_groups * self.num_vars, self.codevector_dim // self.num_groups),
            initializer="uniform")
        self.built = True

    @staticmethod
    def perplexity(probs, mask=None):
        """`sum_g exp(entropy of the mean choice distribution of group g)` over the masked frames.

        Args:
            probs: float32 `(frames, G, V)`.
            mask: optional bool `(frames,)`.
        """
        if mask is None:
            marginal = ops.mean(probs, axis=0)
        else:
            weights = ops.cast(mask, "float32")[:, None, None]
            marginal = ops.sum(probs * weights, axis=0) / ops.sum(weights)
        # xlogy: 0 * log(0) = 0
        entropy = -ops.sum(ops.where(marginal > 0, marginal * ops.log(ops.where(marginal > 0, marginal, 1.0)), 0.0),
                           axis=-1)
        return ops.sum(ops.exp(entropy))

    def call(self, x, mask_time_indices=None, training=None):
        batch, frames = ops.shape(x)[0], ops.shape(x)[1]
        logits = ops.cast(self.weight_proj(x), "float32")
        logits = ops.reshape(logits, (-1, self.num_groups, self.num_vars))  # (B * T, G, V)
        hard = ops.one_hot(ops.argmax(logits, axis=-1), self.num_vars, dtype="float32")
        mask = None if mask_time_indices is None else ops.reshape(ops.cast(mask_time_indices, "bool"), (-1,))
        if training:
            uniform = keras.random.uniform(ops.shape(logits), minval=1e-10, maxval=1.0, seed=self.seed_generator)
            noisy = (logits - ops.log(-ops.log(uniform))) / self.temperature
            soft_sample = ops.softmax(noisy, axis=-1)
            sample = ops.one_hot(ops.argmax(noisy, axis=-1), self.num_vars, dtype="float32")
            choice = sample + soft_sample - ops.stop_gradient(soft_sample)  # straight-through
            perplexity = self.perplexity(ops.softmax(logits, axis=-1), mask)
        else:
            choice = hard
            perplexity = self.perplexity(hard, mask)
        codebook = ops.reshape(ops.cast(self.codevectors, "float32"), (self.num_groups, self.num_vars, -1))
        vectors = ops.einsum("ngv,gvd->ngd", choice, codebook)  # (B * T, G, codevector_dim / G)
        vectors = ops.reshape(vectors, (batch, frames, self.codevector_dim))
        return ops.cast(vectors, self.compute_dtype), perplexity

    def get_config(self):
        return {**super().get_config(), "num_groups": self.num_groups, "num_vars": self.num_vars,
                "codevector_dim": self.codevector_dim, "temperature": self.temperature, "seed": self.seed}
