"""What every route and page of the gateway holds: the services behind it (typed), who is
asking, and the actions (``case_actions``, ``catalogue_actions``, ``oversight_actions``)."""
from __future__ import annotations

from werkzeug.wrappers import Request

from services.gateway.auth import User
from services.gateway.backends import Service
from services.gateway.case_actions import CaseActions
from services.gateway.catalogue_actions import CatalogueActions
from services.gateway.files import FileStore
from services.gateway.idempotency import IdempotentCommands
from services.gateway.identity import Identity
from services.gateway.oversight_actions import OversightActions


class Gateway:
    """Declares the collaborators by type; ``service.GatewayService`` provides them."""

    catalogue: Service
    approval: Service
    notify: Service
    audit: Service
    identity: Identity
    files: FileStore
    idempotency: IdempotentCommands

    @property
    def cases(self) -> CaseActions:
        return CaseActions(self.approval, self.files)

    @property
    def items(self) -> CatalogueActions:
        return CatalogueActions(self.catalogue)

    @property
    def oversight(self) -> OversightActions:
        return OversightActions(self.audit, self.notify)

    def _user(self, request: Request) -> User:
        """The signed-in user of an API request; 401 without a valid token."""
        return self.identity.user(request.headers.get("Authorization"))

    def _viewer(self, request: Request) -> User | None:
        """The signed-in user, or None for the public; 401 for a bad token."""
        return self.identity.viewer(request.headers.get("Authorization"))
