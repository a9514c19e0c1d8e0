"""Customers: workspace ids from the config to customer names; unknown workspaces still get a case."""

from __future__ import annotations

from bot.cases import CustomerRef
from bot.config import Customer
from bot.customers import Customers

ACME = Customer("Acme A/S", agreement=True, local=False, slack_teams=("T01ACME",), teams_tenants=("tenant-acme",))
BYG = Customer("Byg ApS", agreement=False, local=True, slack_teams=("T02BYG",), teams_tenants=())
DEMO = Customer("Demo A/S", agreement=True, local=True, slack_teams=("T01ACME",), teams_tenants=())


def test_slack_team_maps_to_its_customer() -> None:
    assert Customers((ACME, BYG)).for_workspace("slack", "T02BYG") == CustomerRef("Byg ApS", True, False)


def test_teams_tenant_maps_to_its_customer() -> None:
    assert Customers((ACME, BYG)).for_workspace("teams", "tenant-acme") == CustomerRef("Acme A/S", True, True)


def test_local_chat_is_the_first_local_customer() -> None:
    assert Customers((ACME, BYG, DEMO)).for_workspace("local", "local") == CustomerRef("Byg ApS", True, False)


def test_unknown_workspace_is_marked_unknown_with_its_id() -> None:
    assert Customers((ACME,)).for_workspace("slack", "T99NEW") == CustomerRef("T99NEW", known=False)


def test_ids_count_only_on_their_own_platform() -> None:
    assert Customers((ACME,)).for_workspace("teams", "T01ACME").known is False


def test_no_local_customer_makes_the_local_chat_unknown() -> None:
    assert Customers((ACME,)).for_workspace("local", "local") == CustomerRef("local", known=False)


def test_first_listed_customer_wins_a_duplicated_id() -> None:
    assert Customers((ACME, DEMO)).for_workspace("slack", "T01ACME").name == "Acme A/S"
