#!/usr/bin/env python3
"""PyTorch reference of Leitmotif's two music models, for parity checks and speed baselines.

Reads the shipped burn weights (``assets/models/*.bpk``, burn's "burnpack" format) and their
JSON configs, rebuilds the same networks in eager PyTorch (float32, eval mode, no dropout) and
offers three subcommands:

``logits``
    Teacher-forced next-token logits for every position of one sequence (``--tokens``) or of
    each line of a file (``--batch-file``), as JSON.
``bench``
    Eager-PyTorch speed: prefill tokens/s (batch 1) and greedy decode tokens/s at batch 1 and
    batch 4, with a KV cache (transformer) or the LSTM state (RNN), reading each sampled token
    back to Python as a constrained decoder must. Prints one JSON object (the PyTorch side of
    ``leitmotif bench``).
``check``
    Sanity checks of the port without the Rust side: a greedy continuation of
    ``[Bos, Style, Tempo]`` must follow the token grammar with a low mean negative
    log-likelihood, temperature-1 samples must score close to the training run's validation
    loss, grammar-constrained samples can be scored by the other model, cached decoding must
    agree with the full forward pass, and (RNN) the ``torch.nn.LSTM`` mapping must agree with a
    gate-by-gate transcription of ``lstm.rs``.

The architecture follows ``crates/leitmotif_model/src/{transformer,rnn,lstm}.rs``:

* burn's ``Linear`` stores its weight as ``[d_in, d_out]`` (``y = x @ W + b``); it is
  transposed here into ``torch.nn.Linear``'s ``[d_out, d_in]``.
* MotifTransformer: token embedding (no scaling, no absolute positions) -> pre-norm blocks
  (``RMSNorm -> causal MHA with RoPE -> residual``, ``RMSNorm -> Linear -> exact erf GELU ->
  Linear -> residual``) -> final RMSNorm -> output head tied to the embedding (``x @ E^T``).
  RMSNorm is ``x / sqrt(mean(x^2) + eps) * gamma`` without bias; projections have no bias.
  RoPE uses the "rotate half" layout (dimension ``j`` pairs with ``j + head_dim/2``) with
  frequency ``theta^(-2 (j mod half) / head_dim)``, applied to queries and keys only.
  Attention scale is ``1/sqrt(head_dim)``; the causal mask is aligned to the newest keys.
* MelodyRnn: embedding -> stacked fused LSTMs (gate order ``[input, forget, output, cell]``,
  one bias on the input projection, none on the recurrent one) -> linear head with bias.
  ``torch.nn.LSTM`` uses the order ``[input, forget, cell, output]``, so the gate blocks are
  permuted when loading and ``bias_hh`` is zero.

Usage (from the repository root, after ``scripts/setup-torch.sh``)::

    .venv-torch/bin/python scripts/torch_reference.py logits \\
        --model assets/models/motif_transformer.bpk --tokens 1,9,20,29
    .venv-torch/bin/python scripts/torch_reference.py bench \\
        --model assets/models/melody_rnn.bpk --threads 2 --json
    .venv-torch/bin/python scripts/torch_reference.py check \\
        --model assets/models/motif_transformer.bpk

Only the Python standard library and ``torch`` are needed: the burnpack metadata is CBOR,
decoded by the small reader below.
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# ----------------------------------------------------------------------------------------------
# Burnpack reader
# ----------------------------------------------------------------------------------------------

#: "BURN" as a little-endian u32: the file starts with the bytes ``NRUB``.
BURNPACK_MAGIC = b"NRUB"
#: Newest burnpack format version this reader understands (burn-store 0.21 writes 1).
BURNPACK_VERSION = 1
#: Magic (4 bytes) + version (u16) + metadata length (u32).
BURNPACK_HEADER_SIZE = 10
#: The tensor data section starts at the first multiple of this after header + metadata.
BURNPACK_ALIGNMENT = 256

#: burn ``DType`` names (serialised as CBOR text) -> torch dtypes this reader can load.
BURN_DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
}


class BurnpackError(ValueError):
    """The file is not a burnpack this reader can load."""


class CborDecoder:
    """Decoder for the subset of CBOR (RFC 8949) that serde/ciborium writes for burnpack.

    Handles unsigned and negative integers, byte and text strings, arrays, maps, tags (the tag
    is dropped) and the simple values false/true/null plus half, single and double floats, all
    with definite lengths. Indefinite lengths never occur in burnpack metadata and are rejected.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, count: int) -> bytes:
        end = self.pos + count
        if end > len(self.data):
            raise BurnpackError("CBOR metadata is truncated")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def _argument(self, info: int) -> int:
        """The unsigned argument that follows an initial byte's additional information."""
        if info < 24:
            return info
        sizes = {24: 1, 25: 2, 26: 4, 27: 8}
        if info not in sizes:
            raise BurnpackError(f"unsupported CBOR additional information {info}")
        return int.from_bytes(self._take(sizes[info]), "big")

    def decode(self) -> Any:
        """Decodes the next data item."""
        initial = self._take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major == 7:
            return self._simple(info)
        value = self._argument(info)
        if major == 0:
            return value
        if major == 1:
            return -1 - value
        if major == 2:
            return self._take(value)
        if major == 3:
            return self._take(value).decode("utf-8")
        if major == 4:
            return [self.decode() for _ in range(value)]
        if major == 5:
            result = {}
            for _ in range(value):
                key = self.decode()
                result[key if not isinstance(key, list) else tuple(key)] = self.decode()
            return result
        # major == 6: a semantic tag; keep the tagged item.
        return self.decode()

    def _simple(self, info: int) -> Any:
        simple = {20: False, 21: True, 22: None, 23: None}
        if info in simple:
            return simple[info]
        if info == 25:
            return struct.unpack(">e", self._take(2))[0]
        if info == 26:
            return struct.unpack(">f", self._take(4))[0]
        if info == 27:
            return struct.unpack(">d", self._take(8))[0]
        raise BurnpackError(f"unsupported CBOR simple value {info}")


def read_burnpack(path: Path) -> dict[str, Tensor]:
    """Reads every tensor of a burnpack file, keyed by its module path (``blocks.0.mlp.up.weight``).

    Layout (burn-store 0.21, ``burnpack/base.rs``): ``NRUB``, a little-endian u16 version, a
    little-endian u32 metadata length, the CBOR metadata
    ``{"tensors": {name: {"dtype", "shape", "data_offsets": [start, end], "param_id"}}, ...}``,
    zero padding up to a multiple of 256 bytes, then the data section. Offsets are relative to
    the start of the data section; the tensors are little-endian and row-major.
    """
    raw = path.read_bytes()
    if len(raw) < BURNPACK_HEADER_SIZE or raw[:4] != BURNPACK_MAGIC:
        raise BurnpackError(f"{path} is not a burnpack file (bad magic)")
    version, metadata_len = struct.unpack_from("<HI", raw, 4)
    if version > BURNPACK_VERSION:
        raise BurnpackError(f"{path}: burnpack version {version} is newer than supported")
    metadata_end = BURNPACK_HEADER_SIZE + metadata_len
    if metadata_end > len(raw):
        raise BurnpackError(f"{path}: metadata runs past the end of the file")
    decoder = CborDecoder(raw[BURNPACK_HEADER_SIZE:metadata_end])
    metadata = decoder.decode()
    if decoder.pos != metadata_len or not isinstance(metadata, dict) or "tensors" not in metadata:
        raise BurnpackError(f"{path}: metadata is not a burnpack tensor table")
    data_start = -(-metadata_end // BURNPACK_ALIGNMENT) * BURNPACK_ALIGNMENT

    tensors = {}
    for name, descriptor in metadata["tensors"].items():
        dtype_name = descriptor["dtype"]
        if not isinstance(dtype_name, str) or dtype_name not in BURN_DTYPES:
            raise BurnpackError(f"{path}: tensor {name} has unsupported dtype {dtype_name!r}")
        dtype = BURN_DTYPES[dtype_name]
        shape = [int(d) for d in descriptor["shape"]]
        start, end = (int(o) for o in descriptor["data_offsets"])
        start, end = data_start + start, data_start + end
        expected = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
        if end - start != expected or end > len(raw):
            raise BurnpackError(f"{path}: tensor {name} has {end - start} bytes, expected {expected}")
        tensor = torch.frombuffer(bytearray(raw[start:end]), dtype=dtype).reshape(shape)
        if sys.byteorder != "little":
            tensor = tensor.byteswap()  # pragma: no cover - all supported hosts are little-endian
        tensors[name] = tensor
    return tensors


# ----------------------------------------------------------------------------------------------
# MotifTransformer
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransformerConfig:
    """The fields of ``MotifTransformerConfig`` that shape the network (dropout is unused)."""

    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    mlp_ratio: int
    max_seq_len: int
    rope_theta: float
    norm_eps: float

    @classmethod
    def from_json(cls, config: dict[str, Any]) -> "TransformerConfig":
        return cls(
            vocab_size=int(config["vocab_size"]),
            d_model=int(config.get("d_model", 128)),
            n_layers=int(config.get("n_layers", 4)),
            n_heads=int(config.get("n_heads", 4)),
            mlp_ratio=int(config.get("mlp_ratio", 4)),
            max_seq_len=int(config.get("max_seq_len", 512)),
            rope_theta=float(config.get("rope_theta", 10000.0)),
            norm_eps=float(config.get("norm_eps", 1e-5)),
        )

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


#: Per layer, the keys and values seen so far, each ``[batch, heads, len, head_dim]``.
KvCache = list[tuple[Tensor, Tensor]]


class Rope:
    """Rotary position embedding in the "rotate half" layout (constant tables, no weights).

    Dimension ``j < head_dim/2`` of a head pairs with ``j + head_dim/2``; both use the angle
    ``position * theta^(-2 j / head_dim)``. The tables are computed in float64 and rounded to
    float32, as ``Rope::tables`` does, and grown on demand (there is no maximum position).
    """

    def __init__(self, head_dim: int, theta: float, initial_len: int) -> None:
        self.head_dim = head_dim
        self.theta = theta
        self.cos = torch.empty(0, head_dim)
        self.sin = torch.empty(0, head_dim)
        self._grow(initial_len)

    def _grow(self, length: int) -> None:
        half = self.head_dim // 2
        j = torch.arange(self.head_dim, dtype=torch.float64) % half
        frequency = torch.pow(torch.tensor(self.theta, dtype=torch.float64), -2.0 * j / self.head_dim)
        angle = torch.arange(length, dtype=torch.float64)[:, None] * frequency[None, :]
        self.cos = angle.cos().to(torch.float32)
        self.sin = angle.sin().to(torch.float32)

    def tables(self, start: int, length: int) -> tuple[Tensor, Tensor]:
        """Cosines and sines for positions ``start..start + length``, ``[1, length, 1, head_dim]``."""
        if start + length > self.cos.shape[0]:
            self._grow(max(start + length, 2 * self.cos.shape[0]))
        cos = self.cos[start : start + length][None, :, None, :]
        sin = self.sin[start : start + length][None, :, None, :]
        return cos, sin

    @staticmethod
    def rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        """Rotates ``x`` (``[batch, seq, heads, head_dim]``) by its positions' angles."""
        half = x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rotated * sin


class Attention(nn.Module):
    """Multi-head causal self-attention with RoPE on queries and keys, no biases."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        d = config.d_model
        self.n_heads = config.n_heads
        self.head_dim = config.head_dim
        self.query = nn.Linear(d, d, bias=False)
        self.key = nn.Linear(d, d, bias=False)
        self.value = nn.Linear(d, d, bias=False)
        self.output = nn.Linear(d, d, bias=False)

    def forward(
        self, x: Tensor, cos: Tensor, sin: Tensor, past: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Attends from ``x`` (``[batch, seq, d_model]``) to itself and the cached ``past``.

        Returns the output ``[batch, seq, d_model]`` and the keys and values including ``x``'s
        (``[batch, heads, past + seq, head_dim]`` each).
        """
        batch, seq, d_model = x.shape
        shape = (batch, seq, self.n_heads, self.head_dim)
        # [batch, heads, seq, head_dim]
        query = Rope.rotate(self.query(x).view(shape), cos, sin).transpose(1, 2)
        key = Rope.rotate(self.key(x).view(shape), cos, sin).transpose(1, 2)
        value = self.value(x).view(shape).transpose(1, 2)
        if past is not None:
            key = torch.cat((past[0], key), dim=2)
            value = torch.cat((past[1], value), dim=2)
        past_len = key.shape[2] - seq
        if seq == 1:
            # One query sees every cached key.
            context = F.scaled_dot_product_attention(query, key, value)
        elif past_len == 0:
            context = F.scaled_dot_product_attention(query, key, value, is_causal=True)
        else:
            # burn aligns the causal mask to the bottom-right corner (the newest keys); torch's
            # is_causal aligns it to the top-left, so give the mask explicitly.
            rows = torch.arange(seq)[:, None] + past_len
            allowed = torch.arange(past_len + seq)[None, :] <= rows
            context = F.scaled_dot_product_attention(query, key, value, attn_mask=allowed)
        # [batch, seq, d_model]
        context = context.transpose(1, 2).reshape(batch, seq, d_model)
        return self.output(context), (key, value)


class Mlp(nn.Module):
    """Two-layer MLP with the exact (erf) GELU, no biases."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        d, d_ff = config.d_model, config.mlp_ratio * config.d_model
        self.up = nn.Linear(d, d_ff, bias=False)
        self.down = nn.Linear(d_ff, d, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(F.gelu(self.up(x)))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        d = config.d_model
        self.attention_norm = nn.RMSNorm(d, eps=config.norm_eps)
        self.attention = Attention(config)
        self.mlp_norm = nn.RMSNorm(d, eps=config.norm_eps)
        self.mlp = Mlp(config)

    def forward(
        self, x: Tensor, cos: Tensor, sin: Tensor, past: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        attended, present = self.attention(self.attention_norm(x), cos, sin, past)
        x = x + attended
        return x + self.mlp(self.mlp_norm(x)), present


class MotifTransformer(nn.Module):
    """Decoder-only transformer with RoPE, pre-norm RMSNorm blocks and a tied output head."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if config.d_model % (2 * config.n_heads):
            raise ValueError("d_model must be a multiple of 2 * n_heads")
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.final_norm = nn.RMSNorm(config.d_model, eps=config.norm_eps)
        self.rope = Rope(config.head_dim, config.rope_theta, config.max_seq_len)

    def load_burn(self, tensors: dict[str, Tensor]) -> None:
        """Copies burn's tensors in, transposing ``Linear`` weights to ``[d_out, d_in]``."""
        state = {}
        for name, tensor in tensors.items():
            is_linear = name.endswith(".weight") and name != "embedding.weight"
            state[name.replace(".gamma", ".weight")] = tensor.t() if is_linear else tensor
        load_exact(self, state)

    def forward(self, tokens: Tensor, cache: KvCache | None = None, start: int = 0) -> tuple[Tensor, KvCache]:
        """Logits for the next token at every position of ``tokens`` (``[batch, seq]``).

        ``cache`` holds the keys and values of the ``start`` tokens before ``tokens`` (or is
        ``None`` when ``start`` is 0). Returns ``[batch, seq, vocab]`` logits and the extended
        cache (a new list; the tensors are concatenated per step).
        """
        seq = tokens.shape[1]
        cos, sin = self.rope.tables(start, seq)
        # [batch, seq, d_model]
        x = self.embedding(tokens)
        present: KvCache = []
        for index, block in enumerate(self.blocks):
            x, layer = block(x, cos, sin, None if cache is None else cache[index])
            present.append(layer)
        # Tied head: x @ E^T.
        return F.linear(self.final_norm(x), self.embedding.weight), present


# ----------------------------------------------------------------------------------------------
# MelodyRnn
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RnnConfig:
    """The fields of ``MelodyRnnConfig`` that shape the network (dropout and init are unused)."""

    vocab_size: int
    d_embed: int
    d_hidden: int
    n_layers: int

    @classmethod
    def from_json(cls, config: dict[str, Any]) -> "RnnConfig":
        return cls(
            vocab_size=int(config["vocab_size"]),
            d_embed=int(config.get("d_embed", 128)),
            d_hidden=int(config.get("d_hidden", 256)),
            n_layers=int(config.get("n_layers", 2)),
        )


#: Per layer ``(hidden, cell)`` stacked as torch.nn.LSTM wants: ``[layers, batch, d_hidden]`` each.
LstmState = tuple[Tensor, Tensor]


def burn_gates_to_torch(tensor: Tensor, d_hidden: int) -> Tensor:
    """Reorders the gate blocks along dim 0 from burn's ``[i, f, o, g]`` to torch's ``[i, f, g, o]``."""
    i, f, o, g = tensor.split(d_hidden, dim=0)
    return torch.cat((i, f, g, o), dim=0)


class MelodyRnn(nn.Module):
    """Embedding -> stacked LSTM -> linear head, on ``torch.nn.LSTM``."""

    def __init__(self, config: RnnConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.d_embed)
        self.lstm = nn.LSTM(config.d_embed, config.d_hidden, num_layers=config.n_layers, batch_first=True)
        self.head = nn.Linear(config.d_hidden, config.vocab_size)

    def load_burn(self, tensors: dict[str, Tensor]) -> None:
        """Maps burn's fused LSTM projections onto ``torch.nn.LSTM``'s parameters."""
        expected = {"embedding.weight", "head.weight", "head.bias"} | {
            f"layers.{layer}.{part}"
            for layer in range(self.config.n_layers)
            for part in ("input.weight", "input.bias", "recurrent.weight")
        }
        if set(tensors) != expected:
            raise BurnpackError(f"weights do not match the RNN config: {sorted(set(tensors) ^ expected)} differ")
        d = self.config.d_hidden
        state = {
            "embedding.weight": tensors["embedding.weight"],
            "head.weight": tensors["head.weight"].t(),
            "head.bias": tensors["head.bias"],
        }
        for layer in range(self.config.n_layers):
            prefix = f"layers.{layer}"
            # burn: input.weight [d_in, 4d] with bias [4d]; recurrent.weight [d, 4d], no bias.
            state[f"lstm.weight_ih_l{layer}"] = burn_gates_to_torch(tensors[f"{prefix}.input.weight"].t(), d)
            state[f"lstm.weight_hh_l{layer}"] = burn_gates_to_torch(tensors[f"{prefix}.recurrent.weight"].t(), d)
            state[f"lstm.bias_ih_l{layer}"] = burn_gates_to_torch(tensors[f"{prefix}.input.bias"], d)
            state[f"lstm.bias_hh_l{layer}"] = torch.zeros(4 * d)
        load_exact(self, state)

    def forward(self, tokens: Tensor, state: LstmState | None = None) -> tuple[Tensor, LstmState]:
        """Logits ``[batch, seq, vocab]`` for ``tokens`` (``[batch, seq]``) and the new state.

        ``state`` is ``None`` for a fresh sequence (zeros, as ``LstmState::zeros``).
        """
        output, state = self.lstm(self.embedding(tokens), state)
        return self.head(output), state


def fused_lstm_reference(tensors: dict[str, Tensor], tokens: Tensor, n_layers: int) -> Tensor:
    """Logits computed gate by gate, transcribing ``lstm.rs`` and ``rnn.rs`` literally.

    Used by ``check`` to confirm the gate permutation onto ``torch.nn.LSTM``.
    """
    batch, seq = tokens.shape
    x = tensors["embedding.weight"][tokens]  # [batch, seq, d_embed]
    for layer in range(n_layers):
        w_in = tensors[f"layers.{layer}.input.weight"]
        b_in = tensors[f"layers.{layer}.input.bias"]
        w_rec = tensors[f"layers.{layer}.recurrent.weight"]
        d = w_rec.shape[0]
        hidden = torch.zeros(batch, d)
        cell = torch.zeros(batch, d)
        outputs = []
        for t in range(seq):
            gates = x[:, t] @ w_in + b_in + hidden @ w_rec  # [batch, 4d] as [i, f, o, g]
            input_gate = torch.sigmoid(gates[:, :d])
            forget_gate = torch.sigmoid(gates[:, d : 2 * d])
            output_gate = torch.sigmoid(gates[:, 2 * d : 3 * d])
            candidate = torch.tanh(gates[:, 3 * d :])
            cell = forget_gate * cell + input_gate * candidate
            hidden = output_gate * torch.tanh(cell)
            outputs.append(hidden)
        x = torch.stack(outputs, dim=1)
    return x @ tensors["head.weight"] + tensors["head.bias"]


# ----------------------------------------------------------------------------------------------
# Loading and a common decoding interface
# ----------------------------------------------------------------------------------------------


def load_exact(module: nn.Module, state: dict[str, Tensor]) -> None:
    """Loads ``state`` into ``module``, requiring the same names and shapes."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise BurnpackError(f"weights do not match the model: missing {missing}, unexpected {unexpected}")
    for name, tensor in state.items():
        if tuple(own[name].shape) != tuple(tensor.shape):
            raise BurnpackError(f"{name}: shape {tuple(tensor.shape)}, model wants {tuple(own[name].shape)}")
    module.load_state_dict({name: tensor.to(torch.float32).contiguous() for name, tensor in state.items()})


class Decoder:
    """Prefill-then-step decoding for either model, with the state kept outside the model."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.is_transformer = isinstance(model, MotifTransformer)

    @property
    def kind(self) -> str:
        return "motif_transformer" if self.is_transformer else "melody_rnn"

    def full(self, tokens: Tensor) -> Tensor:
        """Teacher-forced logits ``[batch, seq, vocab]``."""
        return self.model(tokens)[0]

    def prefill(self, prompt: Tensor) -> tuple[Tensor, Any]:
        """Logits ``[batch, vocab]`` after ``prompt`` (``[batch, seq]``) and the decoding state."""
        logits, state = self.model(prompt)
        if self.is_transformer:
            # The KV cache and its length, the position of the next token.
            state = (state, prompt.shape[1])
        return logits[:, -1], state

    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
        """Logits ``[batch, vocab]`` after one more token per row (``[batch]``) and the new state."""
        if self.is_transformer:
            cache, length = state
            logits, cache = self.model(tokens[:, None], cache, length)
            return logits[:, -1], (cache, length + 1)
        logits, state = self.model(tokens[:, None], state)
        return logits[:, -1], state


def load_model(path: Path) -> tuple[Decoder, dict[str, Tensor]]:
    """Builds the model that ``path`` (a ``.bpk``) and its ``.json`` config describe."""
    config_path = path.with_suffix(".json")
    config = json.loads(config_path.read_text())
    tensors = read_burnpack(path)
    model: nn.Module
    if "n_heads" in config or "d_model" in config:
        model = MotifTransformer(TransformerConfig.from_json(config))
    elif "d_hidden" in config:
        model = MelodyRnn(RnnConfig.from_json(config))
    else:
        raise ValueError(f"{config_path}: neither a transformer nor an RNN config")
    model.load_burn(tensors)
    model.eval()
    return Decoder(model), tensors


# ----------------------------------------------------------------------------------------------
# Token vocabulary and grammar (crates/leitmotif_tokens/src/{vocab,grammar,encode}.rs)
# ----------------------------------------------------------------------------------------------

#: (kind, count) in id order, as ``vocab::RANGES``.
TOKEN_RANGES: list[tuple[str, int]] = [
    ("Pad", 1),
    ("Bos", 1),
    ("Eos", 1),
    ("Style", 10),
    ("Tempo", 16),
    ("Bar", 1),
    ("Key", 30),
    ("Meter", 16),
    ("Density", 8),
    ("Register", 9),
    ("Intensity", 8),
    ("Layer", 7),
    ("Position", 108),
    ("Velocity", 32),
    ("Pitch", 128),
    ("Duration", 57),
]
#: ``vocab::METERS``.
METERS = [(2, 4), (3, 4), (4, 4), (5, 4), (6, 4), (9, 4), (2, 2), (3, 2), (4, 2), (3, 8), (6, 8), (9, 8), (12, 8), (5, 8), (7, 8), (2, 8)]
#: ``vocab::Style::ALL`` names.
STYLES = ["air", "jig", "slip jig", "reel", "hornpipe", "waltz", "march", "chorale", "folk", "other"]
#: ``vocab::Layer::ALL`` names; drums (index 3) is the one unpitched layer.
LAYERS = ["Melody", "Bass", "Chords", "Drums", "Inner1", "Inner2", "Inner3"]
DRUMS = 3


def token_offset(kind: str) -> int:
    """The first id of a token kind."""
    total = 0
    for name, count in TOKEN_RANGES:
        if name == kind:
            return total
        total += count
    raise KeyError(kind)


def token_of(token_id: int) -> tuple[str, int]:
    """``(kind, value)`` of an id, e.g. ``("Pitch", 7)``."""
    start = 0
    for kind, count in TOKEN_RANGES:
        if token_id < start + count:
            return kind, token_id - start
        start += count
    raise ValueError(f"token id {token_id} is past the vocabulary")


def token_label(token_id: int) -> str:
    """A short readable form, as ``Token::label``."""
    kind, value = token_of(token_id)
    if kind in ("Pad", "Bos", "Eos", "Bar"):
        return kind
    if kind == "Key":
        return f"Key({value // 2 - 7}{'m' if value % 2 else ''})"
    if kind == "Style":
        return f"Style({STYLES[value]})"
    if kind == "Layer":
        return f"Layer({LAYERS[value]})"
    if kind == "Meter":
        return f"Meter({METERS[value][0]}/{METERS[value][1]})"
    return f"{kind}({value})"


def key_tonic(sharps: int, minor: bool) -> int:
    """Tonic pitch class of a key signature (C = 0): a fifth per sharp, minor a third below."""
    major = (7 * sharps) % 12
    return (major + 9) % 12 if minor else major


class Grammar:
    """The token grammar of ``grammar.rs`` as a state machine, to validate generated pieces.

    ``piece := Bos Style Tempo bar* Eos``; ``bar := Bar Key Meter Density Register Intensity
    layer*`` with layers in order; ``layer := Layer note+``; ``note := [Position] [Velocity]
    Pitch Duration``, with the positional, chord and MIDI-range rules of ``Grammar::check``.
    """

    def __init__(self) -> None:
        self.phase = "Start"
        self.tonic = 0
        self.bar_units = 0
        self.layer: int | None = None
        self.onset: int | None = None
        self.last_pitch: int | None = None
        self.velocity: int | None = None
        self.repositioned = False

    def expected(self) -> list[str]:
        """The token kinds that may come next."""
        phase = self.phase
        simple = {"Start": ["Bos"], "Style": ["Style"], "Tempo": ["Tempo"], "Bar": ["Bar", "Eos"], "Key": ["Key"],
                  "Meter": ["Meter"], "Density": ["Density"], "Register": ["Register"],
                  "Intensity": ["Intensity"], "Voiced": ["Pitch"], "Pitched": ["Duration"], "Done": []}
        if phase in simple:
            return simple[phase]
        if phase == "Body":
            if self.layer is None:
                return ["Layer", "Bar", "Eos"]
            if self.velocity is None:
                return ["Position"]
            return ["Position", "Velocity", "Pitch", "Layer", "Bar", "Eos"]
        # Positioned
        return ["Velocity"] if self.velocity is None else ["Velocity", "Pitch"]

    def _tonic_offset(self) -> int:
        return self.tonic if self.layer is not None and self.layer != DRUMS else 0

    def error(self, token_id: int) -> str | None:
        """Why ``token_id`` may not come next, or ``None`` if it may."""
        kind, value = token_of(token_id)
        if kind not in self.expected():
            return f"expected one of {self.expected()}"
        if kind == "Layer" and self.layer is not None and value <= self.layer:
            return "layers out of order"
        if kind == "Position" and value >= self.bar_units:
            return f"position {value} past the bar's {self.bar_units} units"
        if kind == "Position" and self.onset is not None and value <= self.onset:
            return f"position {value} not after {self.onset}"
        if kind == "Velocity" and self.phase == "Body" and self.last_pitch is not None \
                and self.last_pitch + 1 + self._tonic_offset() > 127:
            return "no pitch left above the chord"
        if kind == "Pitch":
            if value + self._tonic_offset() > 127:
                return "pitch past MIDI's range"
            if not self.repositioned and self.last_pitch is not None and value <= self.last_pitch:
                return "chord note not above the previous one"
        return None

    def advance(self, token_id: int) -> None:
        """Moves past ``token_id``; raises ``ValueError`` if it is not allowed here."""
        reason = self.error(token_id)
        if reason is not None:
            raise ValueError(f"{token_label(token_id)}: {reason}")
        kind, value = token_of(token_id)
        if kind == "Bar":
            self.layer = self.onset = self.last_pitch = self.velocity = None
        elif kind == "Key":
            self.tonic = key_tonic(value // 2 - 7, value % 2 == 1)
        elif kind == "Meter":
            numerator, denominator = METERS[value]
            self.bar_units = numerator * 12 * 4 // denominator
        elif kind == "Layer":
            self.layer = value
            self.onset = self.last_pitch = self.velocity = None
        elif kind == "Position":
            self.onset = value
            self.repositioned = True
        elif kind == "Velocity":
            self.velocity = value
        elif kind == "Pitch":
            self.last_pitch = value
            self.repositioned = False
        self.phase = {"Bos": "Style", "Style": "Tempo", "Tempo": "Bar", "Bar": "Key", "Key": "Meter",
                      "Meter": "Density", "Density": "Register", "Register": "Intensity",
                      "Intensity": "Body", "Layer": "Body", "Position": "Positioned", "Velocity": "Voiced",
                      "Pitch": "Pitched", "Duration": "Body", "Eos": "Done", "Pad": "Done"}[kind]


# ----------------------------------------------------------------------------------------------
# Subcommands
# ----------------------------------------------------------------------------------------------


def parse_ids(text: str) -> list[int]:
    """Token ids from a comma- and/or whitespace-separated list."""
    ids = [int(part) for part in text.replace(",", " ").split()]
    if not ids:
        raise ValueError("empty token list")
    return ids


def command_logits(args: argparse.Namespace) -> None:
    """Prints ``{"logits": ...}``: ``[position][vocab]`` for ``--tokens``, ``[row][position][vocab]``
    for ``--batch-file`` (one sequence per non-empty line; rows may differ in length)."""
    decoder, _ = load_model(args.model)
    vocab = decoder.model.config.vocab_size
    rows = [parse_ids(args.tokens)] if args.tokens else [
        parse_ids(line) for line in args.batch_file.read_text().splitlines() if line.strip()
    ]
    for row in rows:
        bad = [t for t in row if not 0 <= t < vocab]
        if bad:
            raise SystemExit(f"token ids out of range 0..{vocab}: {bad}")
    with torch.inference_mode():
        outputs = [decoder.full(torch.tensor([row]))[0].tolist() for row in rows]
    json.dump({"logits": outputs[0] if args.tokens else outputs}, sys.stdout)
    sys.stdout.write("\n")


def best_seconds(run: Callable[[], float], runs: int) -> float:
    """The fastest of ``runs`` calls of ``run``, which returns the seconds it measured."""
    return min(run() for _ in range(max(runs, 1)))


def command_bench(args: argparse.Namespace) -> None:
    """Prints ``{"backend": "torch-eager", "threads": N, "prefill_tokens_per_s": ..., ...}``.

    Mirrors ``leitmotif bench`` (``crates/leitmotif_cli/src/bench.rs``): a prefill run is one
    batch-1 prefill from an empty state, including building the input tensor and reading the
    next token back; a decode run prefills (untimed) and then times ``--decode`` greedy steps,
    each reading its argmax back to Python and feeding it in as a new tensor. One warm-up of
    each, then the fastest of ``--runs``.
    """
    torch.set_num_threads(args.threads)
    decoder, _ = load_model(args.model)
    vocab = decoder.model.config.vocab_size
    generator = torch.Generator().manual_seed(7)
    # Token values do not change the cost of either model; the ids avoid Pad.
    prompts = {
        batch: torch.randint(1, vocab, (batch, args.prompt), generator=generator).tolist() for batch in (1, 4)
    }

    def prefill(batch: int) -> tuple[Any, list[int], float]:
        begin = time.perf_counter()
        logits, state = decoder.prefill(torch.tensor(prompts[batch]))
        next_ids = logits.argmax(dim=-1).tolist()
        return state, next_ids, time.perf_counter() - begin

    def decode(batch: int) -> float:
        state, next_ids, _ = prefill(batch)
        begin = time.perf_counter()
        for _ in range(args.decode):
            logits, state = decoder.step(torch.tensor(next_ids), state)
            next_ids = logits.argmax(dim=-1).tolist()
        return time.perf_counter() - begin

    with torch.inference_mode():
        prefill(1)
        decode(1)
        prefill_s = best_seconds(lambda: prefill(1)[2], args.runs)
        decode_s = best_seconds(lambda: decode(1), args.runs)
        decode(4)
        decode4_s = best_seconds(lambda: decode(4), args.runs)

    result = {
        "backend": "torch-eager",
        "threads": args.threads,
        "prefill_tokens_per_s": round(args.prompt / prefill_s, 1),
        "decode_tokens_per_s": round(args.decode / decode_s, 1),
        "decode_batch4_tokens_per_s": round(4 * args.decode / decode4_s, 1),
        "model": decoder.kind,
        "prompt": args.prompt,
        "decode": args.decode,
        "torch": torch.__version__,
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


def pooled_nll(decoder: Decoder, sequences: list[list[int]]) -> float:
    """Mean negative log-likelihood (nats per token) of every token after the first of each
    sequence given its prefix, pooled over all sequences' tokens."""
    total, count = 0.0, 0
    for sequence in sequences:
        tokens = torch.tensor([sequence])
        log_probs = F.log_softmax(decoder.full(tokens[:, :-1]), dim=-1)
        total -= log_probs[0].gather(1, tokens[0, 1:, None]).sum().item()
        count += len(sequence) - 1
    return total / count


def generate(
    decoder: Decoder,
    prompt: list[int],
    steps: int,
    sample: torch.Generator | None,
    constrained: bool = False,
) -> list[int]:
    """Continues ``prompt`` by up to ``steps`` tokens, stopping after ``Eos``.

    Picks the argmax, or samples at temperature 1 when ``sample`` is a generator. With
    ``constrained``, tokens the grammar rejects are masked out first (as the Rust decoder does),
    so the result is always a valid piece prefix.
    """
    eos = token_offset("Eos")
    vocab = decoder.model.config.vocab_size
    grammar = Grammar()
    if constrained:
        for token in prompt:
            grammar.advance(token)
    sequence = list(prompt)
    logits, state = decoder.prefill(torch.tensor([prompt]))
    for _ in range(steps):
        scores = logits[0]
        if constrained:
            allowed = torch.tensor([grammar.error(token) is None for token in range(vocab)])
            scores = scores.masked_fill(~allowed, float("-inf"))
        if sample is None:
            token = int(scores.argmax())
        else:
            token = int(torch.multinomial(F.softmax(scores, dim=-1), 1, generator=sample))
        sequence.append(token)
        if constrained:
            grammar.advance(token)
        if token == eos:
            break
        logits, state = decoder.step(torch.tensor([token]), state)
    return sequence


def grammar_report(sequence: list[int]) -> dict[str, Any]:
    """How far ``sequence`` follows the grammar: tokens accepted, the first violation, bars."""
    grammar = Grammar()
    bar = token_offset("Bar")
    for index, token in enumerate(sequence):
        reason = grammar.error(token)
        if reason is not None:
            return {"valid_prefix": index, "violation": f"at {index}: {token_label(token)}: {reason}",
                    "bars": sequence[:index].count(bar)}
        grammar.advance(token)
    return {"valid_prefix": len(sequence), "violation": None, "bars": sequence.count(bar),
            "finished": grammar.phase == "Done"}


def command_check(args: argparse.Namespace) -> None:
    """Prints a JSON report of sanity checks of the port (no Rust needed).

    * ``greedy``: an unconstrained argmax continuation of ``[Bos, Style, Tempo]``; a correct
      port follows the grammar for hundreds of tokens with a low mean NLL.
    * ``sampled``: unconstrained samples at temperature 1; their mean NLL estimates the model's
      entropy, which for a calibrated model is close to the validation loss recorded in
      ``<model>.summary.json`` (shown as ``validation_loss``).
    * ``constrained``: grammar-masked samples, always valid pieces, scored by ``--cross-model``
      (an independently ported model) when given.
    * ``cache_vs_full_max_abs_diff``: cached decoding against the full forward pass.
    * ``nn_lstm_vs_gatewise_max_abs_diff`` (RNN): ``torch.nn.LSTM`` against ``lstm.rs`` gate by gate.
    """
    torch.set_num_threads(args.threads)
    decoder, tensors = load_model(args.model)
    prompt = [token_offset("Bos"), token_offset("Style") + STYLES.index(args.style), token_offset("Tempo") + args.tempo]
    report: dict[str, Any] = {"model": decoder.kind, "prompt": [token_label(t) for t in prompt]}
    summary = args.model.with_suffix(".summary.json")
    if summary.exists():
        report["validation_loss"] = json.loads(summary.read_text()).get("final_validation_loss")
    generator = torch.Generator().manual_seed(args.seed)
    with torch.inference_mode():
        greedy = generate(decoder, prompt, args.steps, None)
        report["greedy"] = {"tokens": len(greedy), "mean_nll_nats": round(pooled_nll(decoder, [greedy]), 4),
                            **grammar_report(greedy), "head": " ".join(token_label(t) for t in greedy[:48])}
        samples = [generate(decoder, prompt, args.steps, generator) for _ in range(args.samples)]
        report["sampled"] = {
            "tokens": sum(len(s) - 1 for s in samples),
            "mean_nll_nats": round(pooled_nll(decoder, samples), 4),
            "grammar": [grammar_report(s) for s in samples],
        }
        constrained = [generate(decoder, prompt, args.steps, generator, constrained=True) for _ in range(args.samples)]
        report["constrained"] = {
            "tokens": sum(len(s) - 1 for s in constrained),
            "mean_nll_nats": round(pooled_nll(decoder, constrained), 4),
            "finished": sum(grammar_report(s).get("finished", False) for s in constrained),
        }
        if args.cross_model is not None:
            other, _ = load_model(args.cross_model)
            report["constrained"]["cross_model"] = other.kind
            report["constrained"]["cross_model_mean_nll_nats"] = round(pooled_nll(other, constrained), 4)

        # Cached decoding must match the full forward pass position by position: the prefill of
        # the first 3 tokens gives position 2's logits, each step the next position's.
        full = decoder.full(torch.tensor([greedy]))[0]
        logits, state = decoder.prefill(torch.tensor([greedy[:3]]))
        stepped = [logits[0]]
        for token in greedy[3:]:
            logits, state = decoder.step(torch.tensor([token]), state)
            stepped.append(logits[0])
        report["cache_vs_full_max_abs_diff"] = (torch.stack(stepped) - full[2:]).abs().max().item()
        if not decoder.is_transformer:
            window = torch.tensor([greedy[:64]])
            reference = fused_lstm_reference(tensors, window, decoder.model.config.n_layers)
            report["nn_lstm_vs_gatewise_max_abs_diff"] = (reference - decoder.full(window)).abs().max().item()
    print(json.dumps(report, indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    logits = sub.add_parser("logits", help="teacher-forced logits as JSON")
    logits.add_argument("--model", type=Path, required=True, help="a .bpk file; its config is the .json beside it")
    source = logits.add_mutually_exclusive_group(required=True)
    source.add_argument("--tokens", help="comma-separated token ids")
    source.add_argument("--batch-file", type=Path, help="one comma/space-separated sequence per line")
    logits.set_defaults(run=command_logits)

    bench = sub.add_parser("bench", help="eager PyTorch prefill and decode speed")
    bench.add_argument("--model", type=Path, required=True)
    bench.add_argument("--threads", type=int, required=True, help="torch.set_num_threads")
    bench.add_argument("--prompt", type=int, default=32, help="prompt tokens (default 32)")
    bench.add_argument("--decode", type=int, default=128, help="decode steps (default 128)")
    bench.add_argument("--runs", type=int, default=3, help="timed runs per measurement; the fastest counts (default 3)")
    bench.add_argument("--json", action="store_true", help="print the JSON on one line")
    bench.set_defaults(run=command_bench)

    check = sub.add_parser("check", help="grammar, NLL and consistency sanity checks")
    check.add_argument("--model", type=Path, required=True)
    check.add_argument("--style", choices=STYLES, default="reel")
    check.add_argument("--tempo", type=int, choices=range(16), default=10, metavar="0..15",
                       help="tempo bucket index (default 10: 120 bpm)")
    check.add_argument("--steps", type=int, default=400, help="tokens to generate at most (default 400)")
    check.add_argument("--samples", type=int, default=4, help="sampled continuations (default 4)")
    check.add_argument("--seed", type=int, default=7)
    check.add_argument("--cross-model", type=Path, help="another .bpk to score the constrained samples with")
    check.add_argument("--threads", type=int, default=2)
    check.set_defaults(run=command_check)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
