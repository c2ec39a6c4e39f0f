"""One outbox relay in a process of its own, for the tests that freeze it with SIGSTOP.

    python -m tests.fault.relay_process DATABASE_URL NATS_URL SUBJECT_PREFIX LEASE_TTL

Prints its status as one JSON line every 20 ms (the test reads what it did once it resumes).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from duragraph_lab.bus import OutboxRelay, Subjects, connect_nats
from duragraph_lab.store import open_pool


async def main(database_url: str, nats_url: str, prefix: str, ttl: float) -> None:
    pool = await open_pool(database_url, min_size=1, max_size=4)
    nc = await connect_nats(nats_url, name="relay-process")
    relay = OutboxRelay(pool, nc, Subjects(prefix), lease_ttl=ttl, standby_poll=0.1)
    await relay.start()
    while True:
        print(json.dumps({"time": time.time(), **relay.status.as_dict()}), flush=True)
        await asyncio.sleep(0.02)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
