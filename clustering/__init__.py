"""News near-duplicate detection and story clustering.

Public API (scikit-learn style estimators in memory, and the whole engine over a DuckDB store)::

    from clustering import Article, Config, Deduplicator, NewsClusterer, StoryClusterer

    labels = Deduplicator().fit_predict([{"id": "a", "title": "..."}, ...])   # near-duplicates
    stories = StoryClusterer().fit_predict(articles)                          # stories, batch
    with NewsClusterer("news.duckdb", Config()) as nc:                        # the store
        nc.ingest(["feed.jsonl"])

Data flows one way: read (:mod:`clustering.io`) -> normalise (:mod:`clustering.normalise`) ->
fingerprint and dedup (:mod:`clustering.dedup`) -> embed (:mod:`clustering.embed`) -> cluster
(:mod:`clustering.stories`) -> store (:mod:`clustering.store`). Every default lives in
:mod:`clustering.config`; evaluation in :mod:`clustering.evaluate`.
"""

from clustering.config import Config, DedupParams, EmbedParams, RunParams, ShingleParams, StoryParams
from clustering.dedup.deduplicator import Deduplicator
from clustering.io.errors import InputError
from clustering.pipeline import NewsClusterer, RunSummary
from clustering.records import Article, SkipReport
from clustering.store import StoreError
from clustering.stories.clusterer import StoryClusterer

__version__ = "0.1.0"

__all__ = ["Article", "Config", "DedupParams", "Deduplicator", "EmbedParams", "InputError",
           "NewsClusterer", "RunParams", "RunSummary", "ShingleParams", "SkipReport",
           "StoreError", "StoryClusterer", "StoryParams", "__version__"]
