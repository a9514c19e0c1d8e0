"""The `[[oncall.technicians]]` blocks of a test's supportbot.toml, written by one function.

Every end-to-end test needs technicians reachable on its platform; written out by hand, each test
file carried its own copy of the same TOML with other ids.
"""

from __future__ import annotations


def technician(
    tech_id: str,
    name: str,
    *,
    language: str = "",
    phone: str = "",
    slack: tuple[str, str] | None = None,
    teams: tuple[str, str] | None = None,
    local: bool | None = None,
) -> str:
    """One technician: `slack` is (team, user), `teams` is (tenant, AAD user); `local` the inbox."""
    lines = ["[[oncall.technicians]]", f'id = "{tech_id}"', f'name = "{name}"']
    if language:
        lines.append(f'language = "{language}"')
    if phone:
        lines.append(f'phone = "{phone}"')
    if slack is not None:
        lines.append(f'slack = {{ team = "{slack[0]}", user = "{slack[1]}" }}')
    if teams is not None:
        lines.append(f'teams = {{ tenant = "{teams[0]}", user = "{teams[1]}" }}')
    if local is not None:
        lines.append(f"local = {str(local).lower()}")
    return "\n".join(lines) + "\n"
