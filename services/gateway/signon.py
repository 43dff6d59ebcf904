"""What the gateway knows of campus single sign-on: the OpenID Connect relying party
(``services.gateway.sso``) and the CAS client (``services.gateway.cas``), each when configured."""

from __future__ import annotations

from dataclasses import dataclass

from services.gateway.cas import CasClient, CasSettings
from services.gateway.sso import OidcClient, OidcSettings
from shared.dependencies import Provided
from shared.errors import NotFoundError


@dataclass
class SingleSignOn:
    """The OIDC relying party and the CAS client, each when configured."""

    oidc: OidcClient | None
    cas: CasClient | None = None

    def oidc_client(self) -> OidcClient:
        if self.oidc is None:
            raise NotFoundError("本站未配置统一身份认证")
        return self.oidc

    def issuer(self) -> str:
        """Whose subjects the administrator links: the OIDC provider's, else the CAS server's."""
        if self.oidc is not None:
            return self.oidc.settings.issuer
        return self.cas_client().settings.server

    def cas_client(self) -> CasClient:
        if self.cas is None:
            raise NotFoundError("本站未配置统一身份认证(CAS)")
        return self.cas


class SingleSignOnSettings(Provided[SingleSignOn]):
    def build(self) -> SingleSignOn:
        oidc, cas = OidcSettings.from_env(), CasSettings.from_env()
        return SingleSignOn(
            OidcClient(oidc) if oidc is not None else None,
            CasClient(cas) if cas is not None else None,
        )


def sso_buttons() -> list[dict[str, str]]:
    """The login page's single sign-on buttons, from the environment."""
    oidc, cas = OidcSettings.from_env(), CasSettings.from_env()
    return [
        *([{"label": oidc.label, "path": "/login/oidc"}] if oidc is not None else []),
        *([{"label": cas.label, "path": "/login/cas"}] if cas is not None else []),
    ]
