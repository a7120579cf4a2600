"""The `openkwh ROLE COMMAND` command line, one module per role, and the deploy."""
