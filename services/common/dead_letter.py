"""The headers a dead-lettered message carries: why it failed and where it came from."""

from __future__ import annotations

from datetime import datetime, timezone


def dead_letter_headers(
    error: BaseException, topic: str, partition: int | None, offset: int | None, service: str
) -> list[tuple[str, bytes]]:
    return [
        ("dlq.error", f"{type(error).__name__}: {error}"[:2000].encode()),
        ("dlq.origin.topic", topic.encode()),
        ("dlq.origin.partition", str(partition).encode()),
        ("dlq.origin.offset", str(offset).encode()),
        ("dlq.service", service.encode()),
        ("dlq.at", datetime.now(timezone.utc).isoformat().encode()),
    ]
