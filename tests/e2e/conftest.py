"""The whole stack these tests share is the `stack` fixture of tests/conftest.py (the browser
tests in tests/admin/console share the same one)."""
