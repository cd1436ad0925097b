-- Polling hygiene (issue 15): robots.txt kept per site between runs, and each feed's learned publishing interval.
-- Issue 15 also adds the source kind 'sitemap' (kind: sitemap in feeds.yaml): sources.kind (001) is now
-- 'folder' | 'feed' | 'sitemap', and fetch_events.kind (002) 'feed' | 'page' | 'sitemap' (a sitemap or index request).

-- One row per site (scheme://host:port, the scope of one robots.txt, RFC 9309 2.3): its last robots.txt fetch.
CREATE TABLE robots_cache (
    origin      VARCHAR PRIMARY KEY,
    fetched_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,   -- Cache-Control max-age / Expires, at most 24 h; 5xx or unreachable: minutes
    http_status INTEGER,
    outcome     VARCHAR NOT NULL,       -- fetch_events vocabulary: ok | http_error | timeout | ...
    body        VARCHAR,                -- the robots.txt text (first 512 KiB) when it was read
    note        VARCHAR
);

-- How often the feed publishes (minutes between items, smoothed over polls); its next poll follows it.
ALTER TABLE feed_state ADD COLUMN learned_minutes DOUBLE;
-- The newest item date read so far: a feed that went quiet (304s, unchanged bodies) is polled less often.
ALTER TABLE feed_state ADD COLUMN newest_item_at TIMESTAMPTZ;
-- The start of the last poll that took all the source listed (nothing deferred, every sitemap read):
-- an index's sitemaps whose <lastmod> is older were read then and are not requested again.
ALTER TABLE feed_state ADD COLUMN read_through_at TIMESTAMPTZ;
