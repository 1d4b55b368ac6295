"""The ``shardvault`` command line (``shardvault = "shardvault.cli:app"``).

Every command that talks to a vault takes ``--data-dir`` (default ``./.shardvault``)
and reads ``<data-dir>/credentials.json`` (written by ``shardvault up``) unless
``--base-url`` and ``--token`` (or ``SHARDVAULT_BASE_URL`` / ``SHARDVAULT_TOKEN``)
are given. Errors are printed as ``error <code>: <message>`` with exit status 1;
bad arguments exit with status 2 and a usage message.

Private keys are read from a file or standard input, never from the command line
(argv is visible to every user of the machine).

Modules: ``common`` (the Typer app, shared options, the client seam, output and
errors), one per command group (``keys``, ``signatures``, ``signers``,
``wallets`` with ``networks``, ``sign``, ``transfer`` for import-key/export-key,
``admin``, ``audit``, ``local`` for up/demo/version); this module puts them on the app.
"""

from __future__ import annotations

from shardvault.cli import (
    admin,
    audit,
    keys,
    local,
    sign,
    signatures,
    signers,
    transfer,
    wallets,
)
from shardvault.cli.common import app

__all__ = ["app"]

app.command("version")(local.version)
app.command("demo")(local.demo)
app.command("up")(local.up)
app.command("sign")(sign.sign)
app.command("import-key")(transfer.import_key)
app.command("export-key")(transfer.export_key)
app.command("networks")(wallets.networks)
app.add_typer(keys.keys_app, name="keys")
app.add_typer(wallets.wallets_app, name="wallets")
app.add_typer(signatures.signatures_app, name="signatures")
app.add_typer(signers.signers_app, name="signers")
app.add_typer(admin.admin_app, name="admin")
app.add_typer(audit.audit_app, name="audit")
