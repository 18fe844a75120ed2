"""Who may do what on the tenant side (DOMAIN.md "Who may do what").

Roles map to permissions here and nowhere else. The operator holds every permission on every
tenant; a user token holds its user's roles on its own tenant only; a switch token only
reaches the call-control endpoints.
"""

from __future__ import annotations

ADMIN_ROLES: tuple[str, ...] = (
    "global_administrator",
    "billing_administrator",
    "skype_for_business_administrator",
    "user_account_administrator",
    "helpdesk_administrator",
    "service_support_administrator",
    "device_administrator",
    "application_administrator",
    "license_administrator",
    "cloud_device_administrator",
    "authentication_administrator",
    "privileged_authentication_administrator",
    "teams_communications_administrator",
    "teams_communications_support_engineer",
    "teams_communications_support_specialist",
    "teams_service_administrator",
)

VIEW_BILLING = "view_billing"
MANAGE_BILLING = "manage_billing"
MANAGE_USERS = "manage_users"

_GRANTS: dict[str, frozenset[str]] = {
    VIEW_BILLING: frozenset(ADMIN_ROLES),
    MANAGE_BILLING: frozenset({"global_administrator", "billing_administrator"}),
    MANAGE_USERS: frozenset(
        {"global_administrator", "license_administrator", "user_account_administrator"}
    ),
}


def check_roles(roles: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validate role names; return them de-duplicated in a stable order."""
    unknown = [r for r in roles if r not in ADMIN_ROLES]
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(unknown)}")
    return tuple(r for r in ADMIN_ROLES if r in roles)


def permits(roles: tuple[str, ...] | list[str] | frozenset[str], permission: str) -> bool:
    """Whether a user holding `roles` has `permission`."""
    return bool(_GRANTS[permission].intersection(roles))


def is_admin(roles: tuple[str, ...] | list[str] | frozenset[str]) -> bool:
    return permits(roles, VIEW_BILLING)


GLOBAL_ADMINISTRATOR = "global_administrator"


def role_change_refusal(
    *, actor_roles: tuple[str, ...] | None, actor_is_target: bool,
    old_roles: tuple[str, ...], new_roles: tuple[str, ...],
) -> tuple[str, str] | None:
    """Why a change of a user's admin roles is refused, as (code, reason); None if allowed.

    `actor_roles` None means the provider's operator, who may change anyone's roles. Otherwise
    only a Global Administrator may, and never their own (DOMAIN.md "Who may do what"). An
    unchanged set of roles is no change and is always allowed. The last Global Administrator
    rule needs the database, so `services.tenants` checks it.
    """
    if set(old_roles) == set(new_roles):
        return None
    if actor_roles is None:
        return None
    if actor_is_target:
        return ("own_roles", "nobody changes their own admin roles: ask another Global Administrator")
    if GLOBAL_ADMINISTRATOR not in actor_roles:
        return ("role_change_forbidden", "only a Global Administrator assigns or removes admin roles")
    return None
