"""Avro with Confluent framing: magic byte 0, 4-byte big-endian schema id, Avro body.

Schema ids are pinned in `schemas/registry.json`, so the product needs no
registry; when `CZ_SCHEMA_REGISTRY_URL` is set, `register_all` registers each
schema under `<topic>-value` and adopts the ids the registry gives.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
MAGIC = 0
_HEADER = struct.Struct(">bI")


class FramingError(ValueError):
    """A message that is not Confluent-framed Avro, or names an unknown schema."""


def load_schema(name: str, directory: Path = SCHEMA_DIR) -> dict:
    return json.loads((directory / f"{name}.avsc").read_text())


@dataclass
class Codec:
    """Encodes and decodes every event type; one instance per process."""

    schemas: dict[str, Any] = field(default_factory=dict)  # name -> parsed schema
    ids: dict[str, int] = field(default_factory=dict)  # name -> schema id used on write
    readers: dict[int, tuple[str, Any]] = field(default_factory=dict)  # schema id -> (name, writer schema)

    @classmethod
    def from_directory(cls, directory: Path = SCHEMA_DIR) -> "Codec":
        registry = json.loads((directory / "registry.json").read_text())
        codec = cls()
        for name, entry in registry.items():
            parsed = fastavro.parse_schema(load_schema(name, directory))
            codec.schemas[name] = parsed
            codec.ids[name] = entry["id"]
            codec.readers[entry["id"]] = (name, parsed)
            # Older writer schemas stay readable: their ids resolve into the current schema.
            for old in entry.get("previous", []):
                old_schema = fastavro.parse_schema(json.loads((directory / old["file"]).read_text()))
                codec.readers[old["id"]] = (name, old_schema)
        return codec

    def encode(self, name: str, record: dict) -> bytes:
        if name not in self.schemas:
            raise FramingError(f"unknown schema {name!r}")
        buf = io.BytesIO()
        buf.write(_HEADER.pack(MAGIC, self.ids[name]))
        fastavro.schemaless_writer(buf, self.schemas[name], record)
        return buf.getvalue()

    def decode(self, data: bytes | None) -> tuple[str, dict]:
        """Returns (schema name, record) resolved into the current schema."""
        if data is None or len(data) < _HEADER.size:
            raise FramingError(f"message of {0 if data is None else len(data)} bytes is too short for Avro framing")
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise FramingError(f"unknown magic byte {magic}: not Confluent-framed Avro")
        if schema_id not in self.readers:
            raise FramingError(f"unknown schema id {schema_id}")
        name, writer_schema = self.readers[schema_id]
        try:
            record = fastavro.schemaless_reader(io.BytesIO(data[_HEADER.size :]), writer_schema, self.schemas[name])
        except Exception as exc:  # fastavro raises several types for a bad body
            raise FramingError(f"Avro body does not match schema {name!r} (id {schema_id}): {exc}") from exc
        if not isinstance(record, dict):  # every schema of the product is a record
            raise FramingError(f"schema {name!r} (id {schema_id}) does not describe a record")
        return name, record

    def register_all(self, registry_url: str, subjects: dict[str, str]) -> None:
        """Registers each schema under its topic's `-value` subject and adopts the id.

        `subjects` maps schema name -> subject. Used only with a real registry.
        """
        import httpx

        for name, subject in subjects.items():
            body = {"schema": json.dumps(load_schema(name))}
            resp = httpx.post(
                f"{registry_url.rstrip('/')}/subjects/{subject}/versions",
                json=body,
                headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
                timeout=10,
            )
            resp.raise_for_status()
            schema_id = resp.json()["id"]
            self.ids[name] = schema_id
            self.readers[schema_id] = (name, self.schemas[name])
