"""Campus single sign-on (统一身份认证) over OpenID Connect: the authorization code flow with
PKCE (S256), state and nonce, through Authlib. The provider vouches for a subject; onetrip
finds the account linked to that subject, or provisions an applicant on the first login.
Roles stay onetrip's own (docs/sso.md)."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oidc.core import CodeIDToken
from eventsourcing.application import AggregateNotFoundError
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from pydantic import TypeAdapter, ValidationError

from services.gateway.application import IdentityApplication
from services.gateway.auth import User
from services.gateway.domain import Account, SubjectLink, subject_link_id
from services.gateway.http import ApiError
from services.gateway.models import Username
from shared.config import env
from shared.departments import department_code
from shared.errors import ConflictError, NotFoundError
from shared.roles import APPLICANT

log = logging.getLogger(__name__)

PENDING_COOKIE = "onetrip_oidc"
PENDING_SECONDS = 600
PENDING_AUDIENCE = "onetrip-oidc-login"
CALLBACK_PATH = "/login/oidc/callback"
HTTP_SECONDS = 10.0
LEEWAY_SECONDS = 60
METADATA_SECONDS = 3600.0
PROVISIONED_BY = "sso"
USERNAME = TypeAdapter(Username)


class SsoRefusedError(ApiError, status=400, title="Bad Request"):
    """A single sign-on that cannot be completed; the login page shows why."""


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    label: str
    scope: str
    username_claim: str
    department_claim: str
    redirect_uri: str

    @classmethod
    def from_env(cls) -> OidcSettings | None:
        """The provider named by ``ONETRIP_OIDC_*``; None when no issuer is set (no button)."""
        issuer = env("ONETRIP_OIDC_ISSUER").strip().rstrip("/")
        if not issuer:
            return None
        return cls(
            issuer=issuer,
            client_id=env("ONETRIP_OIDC_CLIENT_ID"),
            client_secret=env("ONETRIP_OIDC_CLIENT_SECRET"),
            label=env("ONETRIP_OIDC_LABEL"),
            scope=env("ONETRIP_OIDC_SCOPE"),
            username_claim=env("ONETRIP_OIDC_USERNAME_CLAIM"),
            department_claim=env("ONETRIP_OIDC_DEPARTMENT_CLAIM"),
            redirect_uri=env("ONETRIP_OIDC_REDIRECT_URI"),
        )


@dataclass(frozen=True)
class Pending:
    """One login under way, kept in the browser between leaving for the provider and coming
    back, signed with ``ONETRIP_SECRET_KEY`` and good for ten minutes."""

    state: str
    nonce: str
    verifier: str
    next: str

    @classmethod
    def fresh(cls, next_path: str) -> Pending:
        return cls(generate_token(32), generate_token(32), generate_token(64), next_path)

    def sealed(self, now: float | None = None) -> str:
        claims = {**self.__dict__, "aud": PENDING_AUDIENCE,
                  "exp": int((now or time.time()) + PENDING_SECONDS)}
        return jwt.encode(claims, env("ONETRIP_SECRET_KEY"), algorithm="HS256")

    @classmethod
    def unsealed(cls, sealed: str) -> Pending:
        try:
            claims = jwt.decode(sealed, env("ONETRIP_SECRET_KEY"), algorithms=["HS256"],
                                audience=PENDING_AUDIENCE)
            return cls(claims["state"], claims["nonce"], claims["verifier"], claims["next"])
        except (jwt.InvalidTokenError, KeyError) as exc:
            raise SsoRefusedError("登录请求已过期或已使用过,请从登录页重新登录") from exc


class OidcClient:
    """The relying party: the provider's metadata and keys (fetched when first needed, and
    again for a signing key not seen before), the redirect out, and the code's exchange."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None

    def metadata(self) -> dict[str, Any]:
        if self._metadata is None or time.monotonic() - self._metadata_at > METADATA_SECONDS:
            found = self._get(f"{self.settings.issuer}/.well-known/openid-configuration")
            if found.get("issuer") != self.settings.issuer:
                raise SsoRefusedError("统一身份认证的配置与 ONETRIP_OIDC_ISSUER 不符")
            self._metadata, self._metadata_at, self._keys = found, time.monotonic(), None
        return self._metadata

    def begin(self, redirect_uri: str, next_path: str) -> tuple[str, Pending]:
        """Where to send the browser, and the login to remember until it comes back."""
        pending = Pending.fresh(next_path)
        url, _ = self._session(redirect_uri).create_authorization_url(
            self.metadata()["authorization_endpoint"],
            state=pending.state,
            code_verifier=pending.verifier,
            nonce=pending.nonce,
        )
        return url, pending

    def finish(self, redirect_uri: str, answer: Mapping[str, str], pending: Pending
               ) -> dict[str, Any]:
        """The person's claims, once the provider's answer belongs to ``pending`` and its
        code has been exchanged for an ID token that checks out."""
        if answer.get("error"):
            raise SsoRefusedError(f"统一身份认证未完成登录:{answer.get('error')}")
        if not hmac.compare_digest(answer.get("state", ""), pending.state):
            raise SsoRefusedError("登录状态校验失败(state 不符),此次登录不是从本站发起的,请重新登录")
        session = self._session(redirect_uri)
        try:
            token = session.fetch_token(
                self.metadata()["token_endpoint"],
                code=answer.get("code", ""),
                code_verifier=pending.verifier,
                timeout=HTTP_SECONDS,
            )
        except OAuthError as exc:
            raise SsoRefusedError(
                "统一身份认证不认可此次登录的授权码(已使用过或已过期),请重新登录"
            ) from exc
        claims = self.id_token_claims(token, pending.nonce)
        return {**self.userinfo(session, claims["sub"]), **claims}

    def id_token_claims(self, token: Mapping[str, Any], nonce: str) -> dict[str, Any]:
        """The ID token's claims: signed by a key of the provider's JWKS, from the issuer,
        for this client, not expired, carrying this login's nonce."""
        if "id_token" not in token:
            raise SsoRefusedError("统一身份认证没有给出身份令牌(ID Token)")
        try:
            decoded = self._decode(token["id_token"])
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {"iss": {"essential": True, "value": self.settings.issuer},
                 "aud": {"essential": True, "value": self.settings.client_id}},
                {"nonce": nonce, "client_id": self.settings.client_id,
                 "access_token": token.get("access_token")},
            )
            claims.validate(leeway=LEEWAY_SECONDS)
        except (JoseError, ValueError) as exc:
            raise SsoRefusedError(f"身份令牌(ID Token)校验未通过:{exc}") from exc
        return dict(claims)

    def userinfo(self, session: OAuth2Session, subject: str) -> dict[str, Any]:
        """What the userinfo endpoint adds (name, department...), when it is the same person."""
        endpoint = self.metadata().get("userinfo_endpoint")
        if not endpoint:
            return {}
        reply = session.get(endpoint, timeout=HTTP_SECONDS)
        found = reply.json() if reply.ok else {}
        return found if isinstance(found, dict) and found.get("sub") == subject else {}

    def _decode(self, id_token: str) -> Any:
        algorithms = self.metadata().get("id_token_signing_alg_values_supported")
        registry = JWSRegistry(algorithms=algorithms)
        try:
            return jose_jwt.decode(id_token, self._key_set(), registry=registry)
        except JoseError:
            self._keys = None  # the provider may have rolled its keys: read them once more
            return jose_jwt.decode(id_token, self._key_set(), registry=registry)

    def _key_set(self) -> KeySet:
        if self._keys is None:
            self._keys = KeySet.import_key_set(self._get(self.metadata()["jwks_uri"]))
        return self._keys

    def _session(self, redirect_uri: str) -> OAuth2Session:
        return OAuth2Session(
            self.settings.client_id,
            self.settings.client_secret,
            scope=self.settings.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",
        )

    @staticmethod
    def _get(url: str) -> dict[str, Any]:
        try:
            reply = requests.get(url, timeout=HTTP_SECONDS)
            reply.raise_for_status()
            found = reply.json()
        except (requests.RequestException, ValueError) as exc:
            raise SsoRefusedError("暂时连不上统一身份认证,请稍后再试或使用本地账号登录") from exc
        if not isinstance(found, dict):
            raise SsoRefusedError("统一身份认证的应答无法识别")
        return found


@dataclass(frozen=True)
class Person:
    """Who the provider says signed in, in onetrip's terms."""

    subject: str
    username: str
    name: str
    department: str
    email: str | None


def person_of(claims: Mapping[str, Any], settings: OidcSettings) -> Person:
    """The username from the configured claim (else the subject), the department's code
    from the configured claim (a code or a Chinese name; unknown → none)."""
    subject = str(claims["sub"])
    username = next(
        (value for value in (claims.get(settings.username_claim), subject) if valid_username(value)),
        None,
    )
    if username is None:
        raise SsoRefusedError("统一身份认证给出的用户名无法用作本站账号名,请联系管理员")
    department = claims.get(settings.department_claim)
    email = claims.get("email")
    return Person(
        subject=subject,
        username=username,
        name=str(claims.get("name") or username)[:50],
        department=(department_code(department) or "") if isinstance(department, str) else "",
        email=email if isinstance(email, str) and len(email) <= 200 else None,
    )


def valid_username(value: Any) -> bool:
    try:
        USERNAME.validate_python(value)
    except ValidationError:
        return False
    return True


class SsoAccounts:
    """Accounts as single sign-on finds them: by the stored subject, never by a name alone."""

    def __init__(self, accounts: IdentityApplication) -> None:
        self.accounts = accounts

    def linked_username(self, issuer: str, subject: str) -> str | None:
        link = self._link(issuer, subject)
        return link.username if link is not None else None

    def sign_in(self, issuer: str, person: Person) -> User:
        """The account linked to this subject; on the first login, a new applicant account."""
        username = self.linked_username(issuer, person.subject)
        if username is None:
            username = self._provision(issuer, person)
        account = self.accounts.account(username)
        if account is None:
            raise SsoRefusedError(f"与统一身份认证关联的账号 {username} 已不存在,请联系管理员")
        return User.of(account)

    def link(self, issuer: str, subject: str, username: str, actor: str) -> None:
        if not self.accounts.exists(username):
            raise NotFoundError(f"没有这个账号: {username}")
        link = self._link(issuer, subject) or SubjectLink(issuer, subject)
        if link.username not in (None, username):
            raise ConflictError(f"此统一身份认证账号已关联 {link.username},请先解除关联")
        if link.username != username:
            link.link(username, actor)
        self.accounts.save(link)

    def unlink(self, issuer: str, subject: str, actor: str) -> None:
        link = self._link(issuer, subject)
        if link is None or link.username is None:
            raise NotFoundError("此统一身份认证账号没有关联任何本站账号")
        link.unlink(actor)
        self.accounts.save(link)

    def _provision(self, issuer: str, person: Person) -> str:
        if self.accounts.exists(person.username):
            log.warning("single sign-on of subject %s refused: account %s exists, not linked",
                        person.subject, person.username)
            raise SsoRefusedError(
                f"本站已有账号 {person.username},但尚未与您的统一身份认证账号关联;"
                "请联系管理员关联后再登录"
            )
        account = Account(
            username=person.username, name=person.name, department=person.department,
            roles=[APPLICANT], phone="", email=person.email, password_hash=None,
            actor=PROVISIONED_BY,
        )
        link = self._link(issuer, person.subject) or SubjectLink(issuer, person.subject)
        link.link(person.username, PROVISIONED_BY)
        self.accounts.save(account, link)
        return person.username

    def _link(self, issuer: str, subject: str) -> SubjectLink | None:
        try:
            found: SubjectLink = self.accounts.repository.get(subject_link_id(issuer, subject))
        except AggregateNotFoundError:
            return None
        return found
