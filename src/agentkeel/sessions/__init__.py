"""Sessions, messages with per-session sequence numbers, the turn lease and idempotency."""

from agentkeel.sessions.service import (
    MAX_METADATA_BYTES,
    SessionBusyError,
    StoredMessage,
    TurnHandle,
    TurnOutcome,
    TurnReplay,
    begin_turn,
    count_messages,
    create_session,
    delete_session,
    finish_turn,
    get_session,
    list_messages,
)

__all__ = [
    "MAX_METADATA_BYTES",
    "SessionBusyError",
    "StoredMessage",
    "TurnHandle",
    "TurnOutcome",
    "TurnReplay",
    "begin_turn",
    "count_messages",
    "create_session",
    "delete_session",
    "finish_turn",
    "get_session",
    "list_messages",
]
