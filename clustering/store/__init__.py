"""The DuckDB store: one file holding articles, fingerprints, near-duplicate groups, embeddings,
stories and their history.

Tables (see ``SCHEMA``):

- ``runs``: one row per ``run``, with its parameters and summary (an audit log).
- ``articles``: every article as read (original title/text kept), with its ingest sequence
  number ``seq`` and the hash of its normalised text.
- ``signatures``: MinHash signatures (uint32 little-endian bytes) per article and fingerprint
  configuration, so later runs check new articles against everything stored without
  recomputing old signatures.
- ``lsh_bands``: one 64-bit LSH band key per (signature, band), with the item it belongs to
  (an article id, or ``title:<id>`` for a full article's title fingerprint): a new batch looks
  up its own keys here (an indexed lookup) instead of reloading every stored signature.
- ``dup_members`` / ``dup_groups``: each article's near-duplicate group (id = its
  earliest-ingested member), the similarity and article it joined through, and each group's
  representative and size.
- ``embeddings``: one vector per (representative article, model).
- ``stories``: one row per story: first/last seen, ``size`` (articles, near-duplicates
  included), ``units`` (embedded near-duplicate groups) and ``vector_sum`` (their embedding sum;
  centroid = vector_sum / units), the guard features of its first unit, label terms and
  representative headline, ``status`` (active, quiet, merged).
- ``story_members``: which article belongs to which story when: ``valid_from`` / ``valid_to``
  (a move closes the old row and opens a new one; rows are never overwritten), the score and the
  reason of the decision.
- ``story_events``: created, grew, merged_into, split_from, went_quiet.
- ``article_versions``: every superseded version of an updated article (the ``articles`` row is
  the current one; its ``version`` counts from 1); ``articles.canonical_url`` is the URL with
  tracking parameters, AMP variants, scheme and trailing slashes removed.
- ``doc_freqs``: document frequencies of story terms (TF-IDF of the hybrid story scorer),
  updated as units are embedded; the reserved term ``''`` holds the number of documents.
- ``story_state``: per story that is not quiet, the hybrid scorer's state (JSON: embedding
  sum, sparse centroids, kept members; :meth:`clustering.stories.HybridStories.to_json`);
  dropped when the story goes quiet, rebuilt from its members if it is touched again.

All writes of a run happen in one transaction: a run that fails half way leaves the file as it
was. DuckDB allows one writing process per file; a second one gets :class:`StoreError` at once.
"""

from .articles import ArticleTables
from .base import StoreError, as_utc
from .bulk import BulkExchange
from .stories import StoryTables
from .versions import VersionTables
from .views import EXPORT_FORMATS, ReadViews

__all__ = ["EXPORT_FORMATS", "Store", "StoreError", "as_utc"]


class Store(ArticleTables, StoryTables, VersionTables, ReadViews, BulkExchange):
    """A connection to one DuckDB file; all of the engine's SQL lives in this package.

    Args:
        path: the database file, or ``":memory:"`` (created with its schema when it does not
            exist, unless ``read_only``).
        read_only: open for reading only (several readers may share a file).

    Raises:
        StoreError: the file is locked by another writer, is not a DuckDB database, or does not
            exist (read-only).

    The methods come in three groups, one module each: :class:`~.articles.ArticleTables`
    (articles, signatures, near-duplicate groups), :class:`~.stories.StoryTables`
    (embeddings, stories, memberships, events) and :class:`~.views.ReadViews` (listings,
    feed, export, timelines, explain and evaluation lookups). Rules (which member represents a
    group, which story an item joins) are decided by the callers; the store keeps what it is
    given.
    """
