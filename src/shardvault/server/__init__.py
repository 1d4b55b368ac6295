"""The deployments that exist: the embedded vault (API + coordinator + signer nodes
in one process, ``embedded``), the uvicorn wiring that serves it (``serving``) and
``shardvault up``, which runs it in the foreground (``up``).

This is the one layer that builds both a coordinator and signer nodes; everything
below it knows only one side.
"""

from shardvault.server.embedded import EmbeddedVault
from shardvault.server.serving import BackgroundVault, RunningVault, bind_socket, serve_embedded

__all__ = ["BackgroundVault", "EmbeddedVault", "RunningVault", "bind_socket", "serve_embedded"]
