"""The base for faust-streaming agents (mapper, writer, matcher).

Topics are declared in `topics.py` and already exist (the supervisor creates
them), so Faust must not declare or re-partition them. Values travel as raw
bytes and go through the one `Codec`; a message the handler cannot process is
handled under the one error policy of `consumer_policy.py`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

import faust

from .codec import Codec, FramingError
from .consumer_policy import ATTEMPTS, Verdict, pause, verdict
from .dead_letter import dead_letter_headers
from .logs import logging_config
from .metrics import MESSAGES, POISON
from .settings import Settings
from .topics import Topic

log = logging.getLogger(__name__)

Handler = Callable[[str, dict, dict], Awaitable[None]]  # (schema name, record, message context)


def make_app(service: str, settings: Settings) -> faust.App:
    datadir = settings.data_dir / "faust" / (service if settings.instance == 1 else f"{service}-{settings.instance}")
    datadir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    return faust.App(
        f"connectzero-{service}",
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        web_enabled=False,
        topic_allow_declare=False,
        topic_disable_leader=True,
        broker_session_timeout=settings.session_timeout_ms / 1000,
        broker_heartbeat_interval=max(0.5, settings.session_timeout_ms / 5000),
        producer_acks=-1,
        datadir=str(datadir),
        consumer_auto_offset_reset="earliest",
        logging_config=logging_config(service, settings.log_level, settings.log_json),
    )


def raw_topic(app: faust.App, topic: Topic) -> faust.TopicT:
    return app.topic(topic.name, partitions=topic.partitions, key_serializer="raw", value_serializer="raw")


def message_context(message) -> dict:
    key = message.key
    return {
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "key": key.decode("utf-8", "replace") if isinstance(key, bytes) else key,
    }


def decoded_agent(app: faust.App, topic: Topic, codec: Codec, handler: Handler, service: str, concurrency: int = 1):
    """Registers an agent that decodes each message and calls `handler`, under the one
    error policy (`consumer_policy.py`): an outage is waited out and the message tried
    again, never lost; a message that keeps failing goes to `<topic>.dlq`; a fatal error
    stops the service."""
    source = raw_topic(app, topic)
    dlq = app.topic(topic.dlq, partitions=1, key_serializer="raw", value_serializer="raw")

    async def handle(event) -> None:
        message = event.message
        ctx = message_context(message)
        attempts, outages = 0, 0
        while True:
            try:
                name, record = codec.decode(event.value)
                await handler(name, record, ctx)
                MESSAGES.labels(service=service, topic=topic.name).inc()
                return
            except Exception as exc:
                judged = verdict(exc)
                if judged is Verdict.STOP:
                    raise
                if judged is Verdict.RETRY:
                    outages += 1
                    wait = pause(outages)
                    log.warning("outage, trying again in %.1fs: %s", wait, exc, extra=ctx)
                    await asyncio.sleep(wait)
                    continue
                attempts += 1
                if attempts < ATTEMPTS and not isinstance(exc, FramingError):
                    continue
                POISON.labels(service=service, topic=topic.name).inc()
                log.warning("parking poison message: %s", exc, extra=ctx, exc_info=not isinstance(exc, ValueError))
                await dlq.send(
                    key=message.key,
                    value=event.value,
                    headers=dead_letter_headers(exc, message.topic, message.partition, message.offset, service),
                )
                return

    async def agent(stream):
        async for event in stream.events():
            await handle(event)

    agent.__name__ = f"{service}_{topic.name.replace('.', '_')}"
    return app.agent(source, name=agent.__name__, concurrency=concurrency)(agent)
