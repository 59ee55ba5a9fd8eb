"""API keys, tenants and the principal every request is scoped to."""

from agentkeel.security.keys import (
    DEFAULT_TENANT,
    KEY_PREFIX,
    Principal,
    authenticate,
    count_active_keys,
    create_api_key,
    ensure_tenant,
    revoke_api_key,
    validate_tenant_id,
)

__all__ = [
    "DEFAULT_TENANT",
    "KEY_PREFIX",
    "Principal",
    "authenticate",
    "count_active_keys",
    "create_api_key",
    "ensure_tenant",
    "revoke_api_key",
    "validate_tenant_id",
]
