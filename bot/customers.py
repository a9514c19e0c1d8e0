"""Which customer a Slack team, a Teams tenant or the local chat belongs to (from the config).

An unknown workspace still gets its case: as `CustomerRef(name=<workspace id>, known=False)`, so the
operator can see who it was and add the customer to the config.
"""

from __future__ import annotations

from bot.cases import CustomerRef
from bot.config import Customer


class Customers:
    def __init__(self, customers: tuple[Customer, ...]) -> None:
        self._by_key: dict[tuple[str, str], Customer] = {}
        for customer in reversed(customers):  # the first customer listed wins a duplicate id
            self._by_key.update({("slack", team): customer for team in customer.slack_teams})
            self._by_key.update({("teams", tenant): customer for tenant in customer.teams_tenants})
        self._local = next((c for c in customers if c.local), None)

    def for_workspace(self, platform: str, workspace: str) -> CustomerRef:
        """The customer of a Slack team id ("slack"), Teams tenant id ("teams") or the local chat ("local")."""
        customer = self._customer(platform, workspace)
        if customer is None:
            return CustomerRef(name=workspace, known=False)
        return CustomerRef(name=customer.name, known=True, agreement=customer.agreement)

    def share_cases(self, platform: str, workspace: str) -> bool:
        """Whether the employees of this workspace's customer may see each other's cases (off by default)."""
        customer = self._customer(platform, workspace)
        return customer is not None and customer.share_cases

    def _customer(self, platform: str, workspace: str) -> Customer | None:
        return self._local if platform == "local" else self._by_key.get((platform, workspace))
