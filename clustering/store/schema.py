"""The tables of the store (DuckDB DDL); see :mod:`clustering.store` for what each holds."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id BIGINT PRIMARY KEY, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
    command VARCHAR, inputs VARCHAR[], params JSON, summary JSON);
CREATE TABLE IF NOT EXISTS articles (
    id VARCHAR PRIMARY KEY, seq BIGINT NOT NULL, run_id BIGINT NOT NULL,
    title VARCHAR, text VARCHAR, published TIMESTAMPTZ, source VARCHAR, url VARCHAR,
    lang VARCHAR, listed_on VARCHAR, input_order BIGINT, content_hash VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS signatures (
    article_id VARCHAR NOT NULL, config VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    sig BLOB NOT NULL, PRIMARY KEY (article_id, config, kind));
CREATE TABLE IF NOT EXISTS lsh_bands (
    config VARCHAR NOT NULL, key BIGINT NOT NULL, item VARCHAR NOT NULL);
CREATE INDEX IF NOT EXISTS lsh_bands_key ON lsh_bands (key);
CREATE TABLE IF NOT EXISTS dup_members (
    article_id VARCHAR PRIMARY KEY, group_id VARCHAR NOT NULL, similarity DOUBLE,
    joined_via VARCHAR, rule VARCHAR, run_id BIGINT);
CREATE TABLE IF NOT EXISTS dup_groups (
    group_id VARCHAR NOT NULL, representative_id VARCHAR NOT NULL, size BIGINT NOT NULL,
    run_id BIGINT);
CREATE TABLE IF NOT EXISTS embeddings (
    article_id VARCHAR NOT NULL, model_id VARCHAR NOT NULL, vector FLOAT[] NOT NULL,
    run_id BIGINT, PRIMARY KEY (article_id, model_id));
CREATE TABLE IF NOT EXISTS stories (
    story_id VARCHAR NOT NULL, first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ,
    size BIGINT NOT NULL, units BIGINT NOT NULL, vector_sum FLOAT[] NOT NULL, model_id VARCHAR,
    guard JSON, label VARCHAR, label_terms VARCHAR[], representative_id VARCHAR,
    status VARCHAR NOT NULL, created_run BIGINT, updated_run BIGINT);
CREATE TABLE IF NOT EXISTS story_members (
    article_id VARCHAR NOT NULL, story_id VARCHAR NOT NULL, valid_from TIMESTAMPTZ NOT NULL,
    valid_to TIMESTAMPTZ, run_id BIGINT, closed_run BIGINT, score DOUBLE, reason VARCHAR);
CREATE TABLE IF NOT EXISTS doc_freqs (
    term VARCHAR PRIMARY KEY, df BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS story_state (
    story_id VARCHAR PRIMARY KEY, model_id VARCHAR, state VARCHAR NOT NULL, updated_run BIGINT);
CREATE TABLE IF NOT EXISTS counters (name VARCHAR PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS story_events (
    story_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, other_story_id VARCHAR,
    event_time TIMESTAMPTZ NOT NULL, run_id BIGINT, detail VARCHAR);
ALTER TABLE articles ADD COLUMN IF NOT EXISTS canonical_url VARCHAR;
ALTER TABLE articles ADD COLUMN IF NOT EXISTS version BIGINT DEFAULT 1;
-- point lookups of a run's few keys (an index scan instead of a scan of the whole table)
CREATE INDEX IF NOT EXISTS articles_hash ON articles (content_hash);
CREATE INDEX IF NOT EXISTS articles_canonical_url ON articles (canonical_url);
CREATE INDEX IF NOT EXISTS dup_members_group ON dup_members (group_id);
CREATE INDEX IF NOT EXISTS dup_groups_group ON dup_groups (group_id);
CREATE INDEX IF NOT EXISTS embeddings_article ON embeddings (article_id);
CREATE INDEX IF NOT EXISTS stories_story ON stories (story_id);
CREATE INDEX IF NOT EXISTS story_members_story ON story_members (story_id);
CREATE INDEX IF NOT EXISTS story_members_article ON story_members (article_id);
CREATE TABLE IF NOT EXISTS article_versions (
    id VARCHAR NOT NULL, version BIGINT NOT NULL, title VARCHAR, text VARCHAR,
    published TIMESTAMPTZ, source VARCHAR, url VARCHAR, canonical_url VARCHAR, lang VARCHAR,
    content_hash VARCHAR NOT NULL, stored_run BIGINT, superseded_run BIGINT NOT NULL,
    received_id VARCHAR, change VARCHAR NOT NULL, group_id VARCHAR, story_id VARCHAR,
    PRIMARY KEY (id, version));
"""
