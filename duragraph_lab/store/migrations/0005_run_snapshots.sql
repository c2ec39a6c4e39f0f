-- Run snapshots: the folded state of a run after its first `version` events, so that the state at
-- any event is the nearest snapshot plus the events after it, not a fold of the whole log.
--
-- Derived and disposable: readers write them as they fold (duragraph_lab.store.snapshots) and
-- ignore those written by another fold (`fold` names the code that computed the state).
-- `DELETE FROM duragraph.run_snapshots` is always safe: it changes nothing but speed.

CREATE TABLE duragraph.run_snapshots (
    run_id      uuid NOT NULL,
    fold        text NOT NULL,
    version     bigint NOT NULL,  -- of the run's stream: events 1..version are folded in
    seq         bigint NOT NULL,  -- that event's seq
    state       json NOT NULL,    -- json, not jsonb: stored and returned as written, never queried into
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, fold, seq)
);
