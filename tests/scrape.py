"""Reads `GET /metrics` of a running server with prometheus_client's own parser."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Scraped:
    """Every sample of one scrape, by name and labels."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    @classmethod
    def parse(cls, text: str) -> Scraped:
        found = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                found[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return cls(found)

    def value(self, name: str, **labels: str) -> float:
        """The sample with exactly these labels; 0 when it has not been counted yet."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum over every sample of `name` whose labels include these."""
        wanted = set(labels.items())
        return sum(v for (n, have), v in self.samples.items() if n == name and wanted <= have)

    def label_values(self, name: str, label: str) -> set[str]:
        return {dict(have)[label] for (n, have) in self.samples if n == name and label in dict(have)}


async def scrape(session: aiohttp.ClientSession, url: str, *, token: str = "") -> Scraped:
    """GET `url`/metrics (with the bearer token, if given); fails the test unless it answers 200."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.get(f"{url}/metrics", headers=headers) as response:
        body = await response.text()
        assert response.status == 200, body
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return Scraped.parse(body)
