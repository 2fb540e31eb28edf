import io
import json
import struct

import fastavro
import pytest

from services.common.codec import SCHEMA_DIR, FramingError, load_schema

from .avro_samples import sample

REGISTRY = json.loads((SCHEMA_DIR / "registry.json").read_text())


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_schema_round_trips(codec, name):
    record = sample(load_schema(name))
    data = codec.encode(name, record)
    assert data[0] == 0 and struct.unpack(">I", data[1:5])[0] == REGISTRY[name]["id"]
    decoded_name, decoded = codec.decode(data)
    assert decoded_name == name
    assert decoded == record


def test_money_stays_decimal_to_the_cent(codec):
    record = sample(load_schema("xero_write_result"))
    record["total"] = __import__("decimal").Decimal("1999.9900")
    _, decoded = codec.decode(codec.encode("xero_write_result", record))
    assert str(decoded["total"]) == "1999.9900"


@pytest.mark.parametrize("name", sorted(n for n, e in REGISTRY.items() if e["previous"]))
def test_data_written_with_previous_schema_reads_with_current(codec, name):
    old = REGISTRY[name]["previous"][0]
    old_schema = json.loads((SCHEMA_DIR / old["file"]).read_text())
    old_record = sample(old_schema)
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, old["id"]))
    fastavro.schemaless_writer(buf, fastavro.parse_schema(old_schema), old_record)
    decoded_name, decoded = codec.decode(buf.getvalue())
    assert decoded_name == name
    current_fields = {f["name"]: f for f in load_schema(name)["fields"]}
    for field, value in old_record.items():
        assert decoded[field] == value
    added = set(current_fields) - set(old_record)
    assert added, "a previous version must differ from the current one"
    for field in added:
        assert decoded[field] == current_fields[field]["default"]


def test_every_schema_is_backward_compatible_with_its_previous_version():
    for name, entry in REGISTRY.items():
        current = {f["name"]: f for f in load_schema(name)["fields"]}
        for old in entry["previous"]:
            old_fields = {f["name"] for f in json.loads((SCHEMA_DIR / old["file"]).read_text())["fields"]}
            for added in set(current) - old_fields:
                assert "default" in current[added], f"{name}.{added} was added without a default"


def test_bad_magic_byte_is_refused(codec):
    data = bytearray(codec.encode("config_change", sample(load_schema("config_change"))))
    data[0] = 1
    with pytest.raises(FramingError, match="magic byte 1"):
        codec.decode(bytes(data))


def test_unknown_schema_id_and_short_and_garbage_messages_are_refused(codec):
    with pytest.raises(FramingError, match="unknown schema id 99999"):
        codec.decode(struct.pack(">bI", 0, 99999) + b"\x00")
    with pytest.raises(FramingError, match="too short"):
        codec.decode(b"\x00\x00")
    with pytest.raises(FramingError, match="too short"):
        codec.decode(None)
    with pytest.raises(FramingError, match="does not match schema"):
        codec.decode(struct.pack(">bI", 0, REGISTRY["sync_command"]["id"]) + b"\xff\xff\xff")


def test_encoding_a_record_missing_a_field_names_it(codec):
    record = sample(load_schema("sync_command"))
    del record["record_type"]
    with pytest.raises(Exception, match="record_type"):
        codec.encode("sync_command", record)
