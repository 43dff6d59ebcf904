"""统一身份认证's relying party on its own: what it accepts from the provider, and what not."""

from __future__ import annotations

import time
from typing import Any

import pytest
from defusedxml import DefusedXmlException, ElementTree
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from services.gateway.cas import CasClient, CasSettings
from services.gateway.signon import SingleSignOn, sso_buttons
from services.gateway.sso import (
    OidcClient,
    OidcSettings,
    Pending,
    SsoRefusedError,
    person_of,
)
from shared.errors import NotFoundError

ISSUER = "https://sso.example.edu.cn"
SETTINGS = OidcSettings(
    issuer=ISSUER, client_id="onetrip", client_secret="s", label="统一身份认证",
    scope="openid profile", username_claim="preferred_username",
    department_claim="department", redirect_uri="",
)
KEY = RSAKey.generate_key(2048, parameters={"kid": "campus-1"}, private=True)
NONCE = "n-0123456789"


class Provider(OidcClient):
    """The relying party with the provider's documents at hand instead of over HTTP."""

    def __init__(self) -> None:
        super().__init__(SETTINGS)
        self.documents = {
            f"{ISSUER}/.well-known/openid-configuration": {
                "issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks",
                "authorization_endpoint": f"{ISSUER}/auth", "token_endpoint": f"{ISSUER}/token",
                "id_token_signing_alg_values_supported": ["RS256"],
            },
            f"{ISSUER}/jwks": KeySet([KEY]).as_dict(private=False),
        }

    def _get(self, url: str) -> dict[str, Any]:  # type: ignore[override]
        return self.documents[url]


def id_token(key: RSAKey = KEY, **changed: Any) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "2019010001", "aud": "onetrip", "iat": now,
              "exp": now + 300, "nonce": NONCE, **changed}
    return {"id_token": jwt.encode({"alg": "RS256", "kid": "campus-1"}, claims, key)}


def test_an_id_token_signed_by_the_provider_for_this_login_is_accepted() -> None:
    assert Provider().id_token_claims(id_token(), NONCE)["sub"] == "2019010001"


@pytest.mark.parametrize("changed", [
    {"iss": "https://evil.example.com"},
    {"aud": "another-client"},
    {"nonce": "an-earlier-login"},
    {"exp": int(time.time()) - 600},
])
def test_an_id_token_from_elsewhere_for_someone_else_or_too_late_is_refused(
    changed: dict[str, Any],
) -> None:
    with pytest.raises(SsoRefusedError, match="身份令牌"):
        Provider().id_token_claims(id_token(**changed), NONCE)


def test_an_id_token_signed_by_another_key_is_refused() -> None:
    forger = RSAKey.generate_key(2048, parameters={"kid": "campus-1"}, private=True)
    with pytest.raises(SsoRefusedError, match="身份令牌"):
        Provider().id_token_claims(id_token(forger), NONCE)


def test_the_way_out_asks_for_a_code_with_pkce_s256_state_and_nonce() -> None:
    url, pending = Provider().begin("http://127.0.0.1:8000/login/oidc/callback", "/cases")
    assert url.startswith(f"{ISSUER}/auth?")
    for part in ("response_type=code", "code_challenge_method=S256", "code_challenge=",
                 f"state={pending.state}", f"nonce={pending.nonce}", "client_id=onetrip"):
        assert part in url
    assert pending.verifier not in url


def test_an_answer_with_another_state_is_refused_before_any_code_is_exchanged() -> None:
    pending = Pending.fresh("/")
    with pytest.raises(SsoRefusedError, match="state"):
        Provider().finish("http://h/cb", {"code": "c", "state": "forged"}, pending)


def test_the_login_under_way_is_kept_sealed() -> None:
    pending = Pending.fresh("/cases")
    assert Pending.unsealed(pending.sealed()) == pending
    sealed = pending.sealed()
    with pytest.raises(SsoRefusedError, match="已过期或已使用过"):
        Pending.unsealed(sealed[:-2] + ("AA" if sealed[-2:] != "AA" else "BB"))
    with pytest.raises(SsoRefusedError, match="已过期或已使用过"):
        Pending.unsealed(pending.sealed(now=time.time() - 3600))


def test_the_person_takes_username_and_department_from_the_configured_claims() -> None:
    person = person_of({"sub": "2019010001", "preferred_username": "zhangsan",
                        "name": "张三", "department": "国资处"}, SETTINGS)
    assert (person.username, person.name, person.department) == ("zhangsan", "张三", "gzc")
    assert person_of({"sub": "2019010001", "department": "gzc"}, SETTINGS).department == "gzc"


def test_without_a_usable_username_the_subject_is_the_username_and_unknown_departments_none(
) -> None:
    person = person_of({"sub": "2019010002", "preferred_username": "李 四",
                        "department": "图书馆"}, SETTINGS)
    assert (person.username, person.name, person.department) == ("2019010002", "2019010002", "")


def test_without_an_issuer_there_is_no_button_and_no_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ONETRIP_OIDC_ISSUER", raising=False)
    assert sso_buttons() == []
    with pytest.raises(NotFoundError):
        SingleSignOn(None).oidc_client()
    monkeypatch.setenv("ONETRIP_OIDC_ISSUER", ISSUER)
    assert sso_buttons() == [{"label": "统一身份认证", "path": "/login/oidc"}]


CAS = CasClient(CasSettings("https://cas.example.edu.cn/cas", "统一身份认证(CAS)", "name",
                            "department", ""))


def cas_answer(xml: str) -> Any:
    return ElementTree.fromstring(xml.encode())


def test_a_cas_success_names_the_person_and_maps_the_department() -> None:
    person = CAS._person(cas_answer(
        '<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess>'
        "<cas:user>wangwu</cas:user><cas:attributes><cas:name>王五</cas:name>"
        "<cas:department>保卫处</cas:department></cas:attributes>"
        "</cas:authenticationSuccess></cas:serviceResponse>"
    ))
    assert (person.subject, person.username, person.name, person.department) == (
        "wangwu", "wangwu", "王五", "bwc")


def test_a_cas_failure_is_refused_with_its_code() -> None:
    with pytest.raises(SsoRefusedError, match="INVALID_SERVICE"):
        CAS._person(cas_answer(
            '<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">'
            '<cas:authenticationFailure code="INVALID_SERVICE">no</cas:authenticationFailure>'
            "</cas:serviceResponse>"
        ))


def test_a_cas_answer_with_entities_is_not_read() -> None:
    with pytest.raises(DefusedXmlException):
        cas_answer('<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>')


def test_the_way_out_to_cas_names_the_service() -> None:
    assert CAS.login_url("http://127.0.0.1:8000/login/cas/callback") == (
        "https://cas.example.edu.cn/cas/login?service="
        "http%3A%2F%2F127.0.0.1%3A8000%2Flogin%2Fcas%2Fcallback")
