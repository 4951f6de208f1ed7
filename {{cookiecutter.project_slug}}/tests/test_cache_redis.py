from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from {{ cookiecutter.package_name }}.cache_redis import version_lifetime
from {{ cookiecutter.package_name }}.settings import Settings

from .cache_redis import PrivateRedis, cache_back
from .conftest import graphql, serve

USERS = "{ users { name } }"


async def test_a_write_on_one_instance_is_seen_by_another(settings: Settings, tables: None) -> None:
    async with serve(settings) as first, serve(settings) as second:
        await first.post("/graphql", json={"query": USERS})
        shared = await second.post("/graphql", json={"query": USERS})

        await graphql(second, 'mutation { createUser(name: "Cy", email: "cy@example.com") { id } }')
        after = await first.post("/graphql", json={"query": USERS})

    assert shared.headers["x-cache"] == "hit"
    assert after.json()["data"]["users"] == [{"name": "Cy"}]


async def test_every_version_a_write_bumps_expires_after_every_entry_it_could_match(
    settings: Settings, tables: None
) -> None:
    """A version that expires reads 0 again; an entry stored before its bump must be gone by then."""
    async with serve(settings) as client:
        await client.post("/graphql", json={"query": USERS})
        await graphql(client, 'mutation { createUser(name: "Cy", email: "cy@example.com") { id } }')

    redis = Redis.from_url(settings.redis_url)
    try:
        keys = list(redis.scan_iter(match=settings.cache_key_prefix + "version:*"))
        lifetimes = {key.decode().rpartition(":version:")[2]: redis.ttl(key) for key in keys}
    finally:
        redis.close()

    assert {"*", "users", "user:1"} <= set(lifetimes), lifetimes
    shortest = settings.cache_ttl_seconds + settings.request_timeout_seconds
    assert all(shortest < ttl <= version_lifetime(settings) for ttl in lifetimes.values()), lifetimes


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def errors_counted() -> float:
    return REGISTRY.get_sample_value("graphql_response_cache_total", {"result": "error"}) or 0


async def cache_metrics(client: httpx.AsyncClient) -> dict[str, float]:
    """What /metrics says of the cache's state: up, and writes whose invalidation waits."""
    text = (await client.get("/metrics")).text
    samples = {sample.name: sample for family in text_string_to_metric_families(text) for sample in family.samples}
    return {
        "up": samples["response_cache_up"].value,
        "pending": samples["response_cache_pending_invalidations"].value,
    }


async def test_redis_down_means_uncached_answers_from_a_ready_instance_that_reports_it(
    settings: Settings, tables: None, private_redis: PrivateRedis
) -> None:
    async with serve(settings.model_copy(update={"redis_url": private_redis.url})) as client:
        await client.post("/graphql", json={"query": USERS})
        assert (await client.post("/graphql", json={"query": USERS})).headers["x-cache"] == "hit"

        private_redis.stop()
        before = errors_counted()
        during = [await client.post("/graphql", json={"query": USERS}) for _ in range(5)]
        ready = await client.get("/health/ready")
        await graphql(client, 'mutation { createUser(name: "Cy", email: "cy@example.com") { id } }')
        metrics_during = await cache_metrics(client)

        private_redis.start()
        await cache_back(client)
        metrics_after = await cache_metrics(client)
        await client.post("/graphql", json={"query": USERS})
        recovered = await client.post("/graphql", json={"query": USERS})

    assert [(response.status_code, response.json()) for response in during] == [(200, {"data": {"users": []}})] * 5
    assert errors_counted() - before == 1  # one failed call, then no request asks Redis until it is back
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert list(ready.json()["degraded"]) == ["cache"]
    assert "ConnectionError" in ready.json()["degraded"]["cache"]  # development: the reason
    assert metrics_during == {"up": 0, "pending": 1}
    assert metrics_after == {"up": 1, "pending": 0}
    assert recovered.headers["x-cache"] == "hit"
    assert recovered.json()["data"]["users"] == [{"name": "Cy"}]


async def test_in_production_readiness_names_the_cache_without_its_address(
    settings: Settings, tables: None, private_redis: PrivateRedis
) -> None:
    own = settings.model_copy(update={"redis_url": private_redis.url, "app_env": "production"})
    async with serve(own) as client:
        private_redis.stop()
        ready = await client.get("/health/ready")

    assert ready.status_code == 200
    assert ready.json() == {"status": "degraded", "degraded": {"cache": "unavailable"}}
