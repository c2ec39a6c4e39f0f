-- The store (issue 17): LangGraph's BaseStore, long-term memory that graphs share across threads
-- (`runtime.store`, `get_store()`) and that the /store routes serve. Items are rows, not events:
-- a store write is not part of any run's history (LangGraph neither replays nor rewinds it with a
-- run, a fork or a retry), and an item that expires or is deleted must be gone, which an
-- append-only log cannot give. See docs/langgraph.md, "The store".
--
-- The namespace is stored as its labels joined with '.' (a label never contains one), in the "C"
-- collation: the primary key's index then serves a namespace-prefix search (`prefix LIKE 'a.b.%'`)
-- and orders namespaces by code point, as Python orders tuples of strings.
CREATE TABLE duragraph.store_items (
    prefix      text COLLATE "C" NOT NULL,
    key         text COLLATE "C" NOT NULL,
    value       jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    -- Minutes the item lives after its last write (or read, with refresh_ttl); NULL: forever.
    ttl_minutes double precision CHECK (ttl_minutes > 0),
    expires_at  timestamptz,
    PRIMARY KEY (prefix, key),
    CHECK ((ttl_minutes IS NULL) = (expires_at IS NULL))
);

-- What the TTL sweeper deletes, oldest first.
CREATE INDEX store_items_expiry ON duragraph.store_items (expires_at) WHERE expires_at IS NOT NULL;
-- Searches answer the most recently updated items first.
CREATE INDEX store_items_recent ON duragraph.store_items (updated_at DESC);
