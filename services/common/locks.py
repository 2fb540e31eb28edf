"""Postgres advisory lock ids, declared once so no two uses collide. Two-key locks
(`pg_advisory_lock(class, key)`) take the class from here and a key per thing locked."""

MIGRATIONS = 727_001  # one process applies migrations at a time
ALERTS_SENDER = 727_040  # one alerts process sends at a time
INGEST_CYCLE = 727_100  # class: one cycle per record type (key: the kind's index)
XERO_PAYMENT_POLL = 727_300  # class: one poll per organisation (key: hashtext(organisation id))
WRITER_ORGANISATION = 727_200  # class: one writer process writes for an organisation at a time (key: its id's crc)
