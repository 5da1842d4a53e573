"""Sequence autoencoders (Keras 3 on TensorFlow) for windows of a multivariate time series.

- ``conv`` (default): a temporal-convolution autoencoder: 1-D convolutions with stride 2 down to a dense code,
  transposed convolutions back. Fast on a CPU.
- ``lstm``: an LSTM encoder whose last state goes through a dense code, repeated over the window and decoded by
  a second LSTM (the "LSTM autoencoder" of the Scanflow slides).

Both output linear values (the windows are standardised per feature) and name their bottleneck ``code``.
"""

from __future__ import annotations

from typing import Any, Literal

from ..errors import CheckerSettingsError
from .networks import CODE_LAYER, keras

__all__ = ["SEQUENCE_ARCHITECTURES", "SequenceArchitecture", "build_sequence_autoencoder"]

SequenceArchitecture = Literal["conv", "lstm"]
SEQUENCE_ARCHITECTURES: tuple[str, ...] = ("conv", "lstm")


def build_sequence_autoencoder(
    window: int, features: int, architecture: str, *, code_size: int, filters: tuple[int, ...], units: int
) -> Any:
    """A Keras model ``(window, features) -> (window, features)`` whose bottleneck layer is named ``code``."""
    if architecture not in SEQUENCE_ARCHITECTURES:
        raise CheckerSettingsError(
            f"unknown sequence architecture {architecture!r}: use one of {', '.join(SEQUENCE_ARCHITECTURES)}"
        )
    k = keras()
    layers = k.layers
    inputs = k.Input(shape=(window, features), name="x")
    if architecture == "lstm":
        x = layers.LSTM(units, name="encode_lstm")(inputs)
        code = layers.Dense(code_size, name=CODE_LAYER)(x)
        x = layers.RepeatVector(window)(code)
        x = layers.LSTM(units, return_sequences=True, name="decode_lstm")(x)
        outputs = layers.TimeDistributed(layers.Dense(features), name="reconstruction")(x)
        return k.Model(inputs, outputs, name="lstm_autoencoder")
    factor = 2 ** len(filters)
    padded = -(-window // factor) * factor
    x = inputs
    if padded != window:
        x = layers.ZeroPadding1D((0, padded - window))(x)
    for i, n in enumerate(filters):
        x = layers.Conv1D(n, 5, strides=2, padding="same", activation="relu", name=f"encode_{i}")(x)
    x = layers.Flatten()(x)
    code = layers.Dense(code_size, name=CODE_LAYER)(x)
    small = padded // factor
    x = layers.Dense(small * filters[-1], activation="relu", name="decode_dense")(code)
    x = layers.Reshape((small, filters[-1]))(x)
    for i, n in enumerate(reversed(filters[:-1])):
        x = layers.Conv1DTranspose(n, 5, strides=2, padding="same", activation="relu", name=f"decode_{i}")(x)
    x = layers.Conv1DTranspose(features, 5, strides=2, padding="same", name="decode_out")(x)
    if padded != window:
        x = layers.Cropping1D((0, padded - window))(x)
    outputs = layers.Reshape((window, features), name="reconstruction")(x)
    return k.Model(inputs, outputs, name="conv_sequence_autoencoder")
