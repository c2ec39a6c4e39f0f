"""A 3-node NATS JetStream cluster (tests/topology.py): the event stream replicated three times, and a
client that reconnects across the cluster's nodes, including those it was not given."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from duragraph_lab.bus import StreamPolicy, Subjects, connect_nats, ensure_stream
from tests.topology import NatsCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    c = NatsCluster(tmp_path_factory.mktemp("cluster")).start()
    yield c
    c.stop()


async def test_the_stream_gets_the_configured_replicas(cluster: NatsCluster) -> None:
    nc = await connect_nats(cluster.url, name="replicas")
    try:
        one = Subjects(f"r{uuid.uuid4().hex[:8]}")
        small = StreamPolicy(max_bytes=64 * 1024**2, min_bytes=16 * 1024**2)
        setup = await ensure_stream(nc, one, small)
        assert setup.info.config.num_replicas == 1 and setup.as_dict()["replicas"] == 1
        # Unset keeps the existing stream's copies; a number changes them in place.
        again = await ensure_stream(nc, one, small)
        assert again.info.config.num_replicas == 1
        grown = await ensure_stream(
            nc, one, StreamPolicy(max_bytes=64 * 1024**2, min_bytes=16 * 1024**2, replicas=3)
        )
        assert grown.info.config.num_replicas == 3
        # JetStream adds the copies in the background: a leader and two current followers.
        async with asyncio.timeout(20):
            while True:
                cluster_info = (await nc.jetstream().stream_info(one.stream_name)).cluster
                followers = [p for p in (cluster_info.replicas or []) if p.current] if cluster_info else []
                if cluster_info is not None and cluster_info.leader and len(followers) == 2:
                    break
                await asyncio.sleep(0.1)
        three = Subjects(f"r{uuid.uuid4().hex[:8]}")
        made = await ensure_stream(
            nc, three, StreamPolicy(max_bytes=64 * 1024**2, min_bytes=16 * 1024**2, replicas=3)
        )
        assert made.created and made.info.config.num_replicas == 3
    finally:
        await nc.close()


async def test_a_client_given_one_node_reconnects_to_the_others(cluster: NatsCluster) -> None:
    first = cluster.nodes[0]
    got: asyncio.Queue[bytes] = asyncio.Queue()
    nc = await connect_nats(first.url(cluster.token), name="one-node")
    try:

        async def on_msg(msg: object) -> None:
            got.put_nowait(msg.data)  # type: ignore[attr-defined]

        await nc.subscribe("hello", cb=on_msg)
        await nc.flush()
        first.kill()
        # The token travels as an option: the nodes the cluster announced accept it.
        async with asyncio.timeout(20):
            while not (nc.is_connected and nc.connected_url and nc.connected_url.port != first.port):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            await nc.flush()
        other = await connect_nats(cluster.nodes[1].url(cluster.token), name="other")
        await other.publish("hello", b"after the kill")
        await other.flush()
        async with asyncio.timeout(10):
            assert await got.get() == b"after the kill"  # the subscription came along
        await other.close()
    finally:
        await nc.close()
        cluster.start_node(first)
        cluster.wait_jetstream()
