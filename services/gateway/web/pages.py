"""The online service hall's pages (网上办事大厅), mixed into the gateway beside the JSON API."""

from __future__ import annotations

from services.gateway.web.applicant import ApplicantPages
from services.gateway.web.approver import ApproverPages
from services.gateway.web.editor import EditorPages
from services.gateway.web.public import PublicPages
from services.gateway.web.sso import SsoPages
from services.gateway.web.supervisor import SupervisorPages


class PageRoutes(
    PublicPages, ApplicantPages, ApproverPages, EditorPages, SupervisorPages, SsoPages
):
    pass
