"""The running node: service layer, HTTP API, CLI, configuration. All I/O, time and processes live here."""
