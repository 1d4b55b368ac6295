"""Network encodings: addresses, what to sign for each kind of payload, and
how to put a signature back into the payload. Pure functions, no I/O; signing is a
callback into the vault."""
