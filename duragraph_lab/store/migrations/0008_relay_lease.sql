-- Relay leadership as a lease (issue 15). One outbox relay publishes at a time: the one holding this
-- lease. It renews the lease every third of its time-to-live; once the lease has expired, any
-- other relay may take it, bumping the epoch. An advisory lock held on the leader's connection
-- could not do that: a frozen (SIGSTOPped) leader keeps its TCP connection, and so its lock, open.
--
-- One row, always present (seeded expired), so that taking the lease is one UPDATE whose row lock
-- decides between relays asking at the same moment. Times are the database's clock: every relay
-- compares against the same one.
CREATE TABLE duragraph.relay_lease (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    holder      text NOT NULL,
    epoch       bigint NOT NULL,
    acquired_at timestamptz NOT NULL,
    renewed_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);

INSERT INTO duragraph.relay_lease (holder, epoch, acquired_at, renewed_at, expires_at)
VALUES ('', 0, now(), now(), now());
