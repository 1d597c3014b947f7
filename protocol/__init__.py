"""Sans-IO Handle System protocol: identifiers, values and their encodings. No I/O here."""
