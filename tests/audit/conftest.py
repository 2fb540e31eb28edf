import pytest

from services.audit.store import ChdbStore


@pytest.fixture
def store(tmp_path):
    """A real chdb audit store in a temporary directory (closed after: chdb serves one directory per process)."""
    store = ChdbStore(tmp_path / "chdb")
    store.open(90)
    yield store
    store.close()
