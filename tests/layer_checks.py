"""Generic checks every public layer must pass (used by tests/test_layers*.py).

- `from_config(get_config())` round trip gives the same outputs with the
  same weights;
- eager call == symbolic (`keras.Input`) build and output shape;
- XLA (`jit_compile=True`) == eager;
- one `fit()` step runs and changes the weights;
- under `mixed_bfloat16` / `mixed_float16` the layer runs, keeps float32
  variables and returns the compute dtype, close to float32.
"""

import keras
import numpy as np
import tensorflow as tf


def check_config_round_trip(layer, inputs, call_kwargs=None):
    call_kwargs = call_kwargs or {}
    expected = layer(*inputs, **call_kwargs)
    clone = layer.__class__.from_config(layer.get_config())
    clone(*inputs, **call_kwargs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(_first(clone(*inputs, **call_kwargs)), _first(expected), atol=1e-6)
    assert clone.get_config() == layer.get_config()


def check_xla_matches_eager(layer, inputs, call_kwargs=None):
    call_kwargs = call_kwargs or {}
    eager = _first(layer(*inputs, **call_kwargs))
    compiled = tf.function(lambda *x: _first(layer(*x, **call_kwargs)), jit_compile=True)(*inputs)
    np.testing.assert_allclose(compiled.numpy(), eager.numpy(), atol=1e-5)


def check_fit_step(make_layer, inputs, call_kwargs=None):
    """Wraps the layer in a functional model with a scalar head and fits one step."""
    call_kwargs = call_kwargs or {}
    layer = make_layer()
    symbolic = [keras.Input(shape=x.shape[1:], dtype=x.dtype) for x in inputs]
    out = _first(layer(*symbolic, **call_kwargs))
    out = keras.layers.Lambda(lambda t: keras.ops.mean(keras.ops.cast(t, "float32"), axis=-1))(out)
    model = keras.Model(symbolic, out)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [w.numpy().copy() for w in layer.trainable_weights]
    target = np.ones(model.output_shape[1:], dtype="float32")[None].repeat(inputs[0].shape[0], 0)
    model.fit([np.asarray(x) for x in inputs], target, epochs=1, batch_size=inputs[0].shape[0], verbose=0)
    changed = [not np.array_equal(b, w.numpy()) for b, w in zip(before, layer.trainable_weights)]
    assert any(changed), "fit() did not change any weight"


def check_mixed_precision(make_layer, inputs, call_kwargs=None, policies=("mixed_bfloat16", "mixed_float16"),
                          atol=None):
    call_kwargs = call_kwargs or {}
    reference_layer = make_layer(dtype="float32")
    reference = _first(reference_layer(*inputs, **call_kwargs)).numpy()
    for policy in policies:
        layer = make_layer(dtype=policy)
        layer(*inputs, **call_kwargs)
        layer.set_weights(reference_layer.get_weights())
        out = _first(layer(*inputs, **call_kwargs))
        expected_dtype = "bfloat16" if policy == "mixed_bfloat16" else "float16"
        assert out.dtype == expected_dtype, (policy, out.dtype)
        assert all(w.dtype == "float32" for w in layer.weights), policy
        tolerance = atol or (5e-2 if policy == "mixed_bfloat16" else 1e-2) * max(1.0, np.abs(reference).max())
        assert np.abs(np.asarray(tf.cast(out, tf.float32)) - reference).max() <= tolerance, policy


def _first(output):
    return output[0] if isinstance(output, (tuple, list)) else output
