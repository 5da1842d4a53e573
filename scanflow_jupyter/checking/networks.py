"""Autoencoder networks (Keras 3 on TensorFlow), built only when a detector is fitted.

Keras and TensorFlow are imported inside these functions, never at module import: ``import tensorflow`` costs
seconds, and ``import scanflow_jupyter.checking`` must stay cheap for the notebook, the CLI and agents.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any, Literal

from ..errors import CheckerSettingsError
from ..tracking.quiet import quiet_defaults

__all__ = ["ArchitectureName", "build_autoencoder", "choose_architecture", "keras"]

ArchitectureName = Literal["auto", "dense", "conv"]
CODE_LAYER = "code"


def keras() -> ModuleType:
    """Import Keras on the TensorFlow backend, with TensorFlow's start-up chatter silenced."""
    quiet_defaults()
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras as module

    if module.backend.backend() != "tensorflow":
        from ..errors import CheckingError

        raise CheckingError(
            f"Keras runs on the {module.backend.backend()!r} backend: scanflow's detectors need TensorFlow; "
            "unset KERAS_BACKEND or set it to 'tensorflow'"
        )
    return module  # type: ignore[no-any-return]


def choose_architecture(sample_shape: tuple[int, ...], architecture: ArchitectureName = "auto") -> str:
    """``conv`` for images ((h, w) or (h, w, c) samples), ``dense`` for vectors, unless asked otherwise."""
    if architecture == "auto":
        return "conv" if len(sample_shape) >= 2 else "dense"
    if architecture not in ("dense", "conv"):
        raise CheckerSettingsError(f"unknown architecture {architecture!r}: use 'auto', 'dense' or 'conv'")
    if architecture == "conv" and len(sample_shape) not in (2, 3):
        raise CheckerSettingsError(
            f"a convolutional autoencoder needs image samples of shape (h, w) or (h, w, c), got {sample_shape}; "
            "use architecture='dense' for vectors"
        )
    return architecture


def build_autoencoder(
    sample_shape: tuple[int, ...],
    architecture: str,
    *,
    code_size: int,
    hidden: tuple[int, ...] | None,
    filters: tuple[int, ...],
    unit_range: bool,
) -> Any:
    """A Keras autoencoder ``x -> reconstruction`` whose bottleneck layer is named ``code``.

    Dense: the input flattened, ``hidden`` layers (ReLU), a linear code, the mirror image back. Convolutional:
    3x3 convolutions with stride 2 (``filters``), a dense linear code, transposed convolutions back; images whose
    sides are not multiples of ``2 ** len(filters)`` are zero-padded on the way in and cropped on the way out.
    The output is a sigmoid when scaled data lies in [0, 1], else linear.
    """
    k = keras()
    layers = k.layers
    out_activation = "sigmoid" if unit_range else None
    inputs = k.Input(shape=sample_shape, name="x")
    if architecture == "dense":
        size = 1
        for n in sample_shape:
            size *= n
        widths = hidden if hidden is not None else (min(256, max(32, size)),)
        x = layers.Flatten()(inputs) if len(sample_shape) > 1 else inputs
        for i, width in enumerate(widths):
            x = layers.Dense(width, activation="relu", name=f"encode_{i}")(x)
        code = layers.Dense(code_size, name=CODE_LAYER)(x)
        x = code
        for i, width in enumerate(reversed(widths)):
            x = layers.Dense(width, activation="relu", name=f"decode_{i}")(x)
        x = layers.Dense(size, activation=out_activation, name="reconstruction_flat")(x)
        outputs = layers.Reshape(sample_shape, name="reconstruction")(x)
        return k.Model(inputs, outputs, name="dense_autoencoder")

    height, width = sample_shape[0], sample_shape[1]
    channels = sample_shape[2] if len(sample_shape) == 3 else 1
    factor = 2 ** len(filters)
    padded_h, padded_w = -(-height // factor) * factor, -(-width // factor) * factor
    x = layers.Reshape((height, width, channels))(inputs) if len(sample_shape) == 2 else inputs
    if (padded_h, padded_w) != (height, width):
        x = layers.ZeroPadding2D(((0, padded_h - height), (0, padded_w - width)))(x)
    for i, n in enumerate(filters):
        x = layers.Conv2D(n, 3, strides=2, padding="same", activation="relu", name=f"encode_{i}")(x)
    x = layers.Flatten()(x)
    code = layers.Dense(code_size, name=CODE_LAYER)(x)
    small_h, small_w = padded_h // factor, padded_w // factor
    x = layers.Dense(small_h * small_w * filters[-1], activation="relu", name="decode_dense")(code)
    x = layers.Reshape((small_h, small_w, filters[-1]))(x)
    for i, n in enumerate(reversed(filters[:-1])):
        x = layers.Conv2DTranspose(n, 3, strides=2, padding="same", activation="relu", name=f"decode_{i}")(x)
    x = layers.Conv2DTranspose(channels, 3, strides=2, padding="same", activation=out_activation, name="decode_out")(x)
    if (padded_h, padded_w) != (height, width):
        x = layers.Cropping2D(((0, padded_h - height), (0, padded_w - width)))(x)
    outputs = layers.Reshape(sample_shape, name="reconstruction")(x)
    return k.Model(inputs, outputs, name="conv_autoencoder")
