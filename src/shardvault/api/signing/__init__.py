"""The API's signing flow: :class:`SigningService` (``service.py``) turns a signature
request into a job (``plain.py`` for ``Hash`` / ``Message``, ``chains.py`` for the
chain kinds; ``jobs.py`` holds the job and result types), signs it through the back
end, checks every signature (``checks.py``) and stores the result."""

from shardvault.api.signing.service import Requester, SigningService

__all__ = ["Requester", "SigningService"]
