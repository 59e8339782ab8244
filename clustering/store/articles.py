"""Articles, MinHash signatures and near-duplicate groups: the tables a dedup run writes."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa

from clustering.dedup.engine import Membership
from clustering.dedup.rules import RepCandidate

from .base import StoreBase, as_utc


class ArticleTables(StoreBase):
    """``articles``, ``signatures``, ``dup_members``, ``dup_groups``."""

    def next_seq(self) -> int:
        """The ingest sequence number the next new article gets."""
        top = self._max_of("articles", "seq")
        return 0 if top is None else top + 1

    def stored_hashes_of(self, ids: Iterable[str]) -> dict[str, str]:
        """id -> content hash, for those of ``ids`` already stored."""
        return dict(self._by_ids("SELECT a.id, a.content_hash FROM articles a", "a.id", ids))

    def first_article_by_hash(self, hashes: Iterable[str]) -> dict[str, str]:
        """content hash -> id of the earliest-ingested stored article with that hash."""
        hs = sorted(set(hashes))
        if not hs:
            return {}
        if self._small(hs):  # index scan of articles_hash
            return dict(self._rows(
                f"SELECT content_hash, arg_min(id, seq) FROM articles WHERE content_hash IN "
                f"({self._marks(hs)}) GROUP BY content_hash", hs))
        with self._temp(pa.table({"h": pa.array(hs, pa.string())})) as t:
            return dict(self._rows(
                f"SELECT content_hash, arg_min(id, seq) FROM articles JOIN {t} ON content_hash = h "
                "GROUP BY content_hash"))

    def insert_articles(self, table: pa.Table) -> None:
        """Insert new article rows (an Arrow table with the ``articles`` columns)."""
        self._insert_arrow("articles", table)

    def insert_signatures(self, table: pa.Table) -> None:
        """Insert signature rows (``article_id, config, kind, sig``)."""
        self._insert_arrow("signatures", table)

    def load_signatures(self, config: str, num_perm: int) -> tuple[list[str], list[str], np.ndarray]:
        """All stored signatures of one fingerprint configuration.

        Returns ``(ids, kinds, signatures uint32 (n, num_perm))`` in ingest order.
        """
        tbl = self.con.sql(
            "SELECT s.article_id, s.kind, s.sig FROM signatures s JOIN articles a "
            "ON a.id = s.article_id WHERE s.config = ? ORDER BY a.seq", params=[config]).to_arrow_table()
        ids = tbl.column("article_id").to_pylist()
        kinds = tbl.column("kind").to_pylist()
        blobs = tbl.column("sig").to_pylist()
        sigs = (np.frombuffer(b"".join(blobs), dtype="<u4").reshape(len(ids), num_perm)
                if ids else np.zeros((0, num_perm), np.uint32))
        return ids, kinds, sigs.astype(np.uint32)

    def band_matches(self, config: str, keys: np.ndarray) -> dict[int, list[str]]:
        """Stored LSH band keys among ``keys`` (int64) for a fingerprint configuration: key ->
        items having it."""
        if len(keys) == 0:
            return {}
        if self._small(keys):
            # an index scan of lsh_bands_key, with the config compared here: DuckDB (2.0) falls
            # back to a scan of the whole table when the filter has a term on another column;
            # keys are integers, safe to inline
            rows = [(k, item) for k, item, c in self._rows(
                f"SELECT key, item, config FROM lsh_bands WHERE key IN "
                f"({', '.join(str(int(k)) for k in keys)})") if c == config]
        else:
            with self._temp(pa.table({"k": pa.array(keys, pa.int64())})) as t:
                rows = self._rows(f"SELECT b.key, b.item FROM lsh_bands b JOIN {t} ON b.key = {t}.k "
                                  "WHERE b.config = ?", [config])
        out: dict[int, list[str]] = {}
        for k, item in rows:
            out.setdefault(k, []).append(item)
        return out

    def insert_bands(self, config: str, keys: np.ndarray, items: list[str]) -> None:
        """Store LSH band keys (int64) with their items for a fingerprint configuration."""
        self._insert_arrow("lsh_bands", pa.table({
            "config": pa.array([config] * len(items), pa.string()),
            "key": pa.array(keys, pa.int64()), "item": pa.array(items, pa.string())}))

    def replace_bands(self, config: str, keys: np.ndarray, items: list[str]) -> None:
        """Replace every stored band key of a configuration (after a settings change)."""
        self.con.execute("DELETE FROM lsh_bands WHERE config = ?", [config])
        self.insert_bands(config, keys, items)

    def unsigned_representatives(self, config: str) -> list[tuple[str, str, str]]:
        """Stored articles that should be in the LSH index but have no signature for ``config``
        (first article of each content hash): ``(id, title, text)`` in ingest order. Non-empty
        only after the fingerprint settings changed."""
        return self._rows(
            "SELECT a.id, a.title, a.text FROM articles a "
            "WHERE a.seq = (SELECT min(seq) FROM articles b WHERE b.content_hash = a.content_hash) "
            "AND NOT EXISTS (SELECT 1 FROM signatures s WHERE s.article_id = a.id AND s.config = ?) "
            "ORDER BY a.seq", [config])

    def texts_of(self, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """id -> (title, text) of stored articles."""
        rows = self._by_ids("SELECT a.id, a.title, a.text FROM articles a", "a.id", ids)
        return {r[0]: (r[1] or "", r[2] or "") for r in rows}

    def group_members_touching(self, ids: Iterable[str]) -> dict[str, Membership]:
        """Stored memberships of every member of every group that contains one of ``ids``."""
        ids = list(dict.fromkeys(ids))
        if self._small(ids):  # two index scans (dup_members key, then dup_members_group)
            gids = sorted({g for (g,) in self._rows(
                f"SELECT group_id FROM dup_members WHERE article_id IN ({self._marks(ids)})", ids)})
            rows = self._by_group("SELECT m.article_id, m.group_id, m.similarity, m.joined_via, m.rule "
                                  "FROM dup_members m", gids)
        else:
            with self._ids(ids) as t:
                rows = self._rows(
                    "SELECT m.article_id, m.group_id, m.similarity, m.joined_via, m.rule FROM dup_members m "
                    f"WHERE m.group_id IN (SELECT g.group_id FROM dup_members g JOIN {t} "
                    f"ON g.article_id = {t}.id)")
        return {r[0]: Membership(r[1], r[2], r[3], r[4]) for r in rows}

    def seq_of(self, ids: Iterable[str]) -> dict[str, int]:
        """id -> ingest sequence number for stored articles."""
        return dict(self._by_ids("SELECT a.id, a.seq FROM articles a", "a.id", ids))

    def representative_facts(self, ids: Iterable[str]) -> dict[str, RepCandidate]:
        """id -> what the representative rule looks at (published, text length, ingest order)
        for stored articles: the per-article half of :meth:`group_candidates`, for a caller
        that knows the groups' members already."""
        rows = self._by_ids(
            "SELECT a.id, a.published, length(coalesce(a.title, '')) + length(coalesce(a.text, '')), "
            "a.seq FROM articles a", "a.id", ids)
        return {aid: RepCandidate(aid, as_utc(published), length, seq)
                for aid, published, length, seq in rows}

    def _by_group(self, select: str, group_ids: Sequence[str]) -> list[tuple]:
        """Rows of ``select`` (over ``dup_members m``) for the members of ``group_ids``: an
        index scan of dup_members_group for few groups, a join otherwise."""
        if not group_ids:
            return []
        if self._small(group_ids):
            return self._rows(f"{select} WHERE m.group_id IN ({self._marks(group_ids)})", list(group_ids))
        with self._temp(pa.table({"gid": pa.array(list(group_ids), pa.string())})) as t:
            return self._rows(f"{select} WHERE m.group_id IN (SELECT gid FROM {t})")

    def upsert_memberships(self, members: Mapping[str, Membership], run_id: int,
                           absent: Collection[str] = ()) -> None:
        """Insert or replace ``dup_members`` rows; ``absent``: ids the caller knows have no row
        (articles first stored in this run), not looked for."""
        if not members:
            return
        ids = list(members)
        old = [i for i in ids if i not in absent] if absent else ids
        if self._small(old):  # an index scan of the key
            self.con.execute(f"DELETE FROM dup_members WHERE article_id IN ({self._marks(old)})", old)
        elif old:
            with self._ids(old) as t:
                self.con.execute(f"DELETE FROM dup_members WHERE article_id IN (SELECT id FROM {t})")
        self._insert_arrow("dup_members", pa.table({
            "article_id": ids,
            "group_id": [members[i].group_id for i in ids],
            "similarity": pa.array([members[i].similarity for i in ids], pa.float64()),
            "joined_via": pa.array([members[i].joined_via for i in ids], pa.string()),
            "rule": pa.array([members[i].rule for i in ids], pa.string()),
            "run_id": pa.array([run_id] * len(ids), pa.int64()),
        }))

    def group_candidates(self, group_ids: Iterable[str]) -> dict[str, list[RepCandidate]]:
        """group id -> what the representative rule looks at for each member (published, text
        length, ingest order), for the given groups."""
        gids = sorted(set(group_ids))
        out: dict[str, list[RepCandidate]] = {}
        if self._small(gids):
            # members by dup_members_group, then their facts by the articles key: two index
            # scans (a join would probe every stored article)
            members = self._by_group("SELECT m.group_id, m.article_id FROM dup_members m", gids)
            facts = self.representative_facts([aid for _, aid in members])
            for gid, aid in members:
                if aid in facts:
                    out.setdefault(gid, []).append(facts[aid])
            return out
        with self._temp(pa.table({"gid": pa.array(gids, pa.string())})) as t:
            rows = self._rows(
                "SELECT m.group_id, a.id, a.published, length(coalesce(a.title, '')) "
                "+ length(coalesce(a.text, '')), a.seq FROM dup_members m "
                f"JOIN articles a ON a.id = m.article_id WHERE m.group_id IN (SELECT gid FROM {t})")
        for gid, aid, published, length, seq in rows:
            out.setdefault(gid, []).append(RepCandidate(aid, as_utc(published), length, seq))
        return out

    def replace_groups(self, group_ids: Iterable[str], groups: Sequence[tuple[str, str, int]],
                       run_id: int) -> None:
        """Delete the ``dup_groups`` rows of ``group_ids`` and insert ``groups``:
        ``(group id, representative id, size)`` (groups merged away are simply not given)."""
        gids = sorted(set(group_ids))
        if self._small(gids):  # an index scan of dup_groups_group
            self.con.execute(f"DELETE FROM dup_groups WHERE group_id IN ({self._marks(gids)})", gids)
        elif gids:
            with self._temp(pa.table({"gid": pa.array(gids, pa.string())})) as t:
                self.con.execute(f"DELETE FROM dup_groups WHERE group_id IN (SELECT gid FROM {t})")
        self._insert_arrow("dup_groups", pa.table({
            "group_id": pa.array([g[0] for g in groups], pa.string()),
            "representative_id": pa.array([g[1] for g in groups], pa.string()),
            "size": pa.array([g[2] for g in groups], pa.int64()),
            "run_id": pa.array([run_id] * len(groups), pa.int64()),
        }))
