"""A local anvil node and the system's Chromium, for the demo, the bench and the tests."""
