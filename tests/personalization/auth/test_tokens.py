"""Customer tokens: only a short-lived JWT under the configured key and algorithm proves anyone."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from personalization.auth.tokens import (
    MAX_TOKEN_CHARS,
    CustomerTokenVerifier,
    InvalidToken,
    mint_token,
    verification_key,
)
from personalization.settings import ConfigurationError, TokenSettings

SECRET = "a-test-secret-that-is-long-enough-0123456789"
AUDIENCE = "hearth-home-support"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(customer_id: str = "cust-0001", ttl: int = 900, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {"sub": customer_id, "aud": AUDIENCE, "iat": now, "exp": now + ttl}
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def hs256(payload: dict[str, Any], key: str = SECRET) -> str:
    return jwt.encode(payload, key, algorithm="HS256")


def refused(verifier: CustomerTokenVerifier, token: object) -> str:
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token)
    reason = caught.value.reason
    assert str(caught.value) == reason
    if isinstance(token, str) and token:
        assert token not in reason, "the reason holds no token material"
    return reason


@pytest.fixture
def verifier() -> CustomerTokenVerifier:
    return CustomerTokenVerifier(SECRET, "HS256", AUDIENCE, max_lifetime_s=3600, leeway_s=30)


@pytest.fixture
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(private_key: Any) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- what is accepted --------------------------------------------------------------------


def test_a_valid_token_verifies_to_the_customer_id(verifier: CustomerTokenVerifier) -> None:
    now = time.time()
    token = mint_token("cust-0001", SECRET, AUDIENCE, ttl_s=900)
    verified = verifier.verify(token)
    assert verified.customer_id == "cust-0001"
    assert abs(verified.issued_at - now) <= 2
    assert verified.expires_at - verified.issued_at == 900


def test_a_token_expired_within_the_leeway_still_verifies(verifier: CustomerTokenVerifier) -> None:
    now = int(time.time())
    token = hs256(claims(iat=now - 900, exp=now - 10))
    assert verifier.verify(token).customer_id == "cust-0001"


def test_a_lifetime_of_exactly_the_maximum_is_allowed(verifier: CustomerTokenVerifier) -> None:
    assert verifier.verify(hs256(claims(ttl=3600))).customer_id == "cust-0001"


def test_minted_tokens_carry_the_issuer_when_one_is_given() -> None:
    token = mint_token("cust-0002", SECRET, AUDIENCE, issuer="https://shop.example")
    checking = CustomerTokenVerifier(SECRET, "HS256", AUDIENCE, issuer="https://shop.example")
    assert checking.verify(token).customer_id == "cust-0002"
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == "https://shop.example"


def test_minting_refuses_what_is_not_a_customer_id() -> None:
    for bad in ("", "cust 0001", "cust/0001", "x" * 65, "cüst-0001"):
        with pytest.raises(ValueError):
            mint_token(bad, SECRET, AUDIENCE)


# --- what is refused ---------------------------------------------------------------------


def test_an_expired_token_is_refused(verifier: CustomerTokenVerifier) -> None:
    now = int(time.time())
    assert refused(verifier, hs256(claims(iat=now - 900, exp=now - 31))) == "expired"
    minted_long_ago = mint_token("cust-0001", SECRET, AUDIENCE, ttl_s=60, now=now - 3600)
    assert refused(verifier, minted_long_ago) == "expired"


def test_a_token_for_another_audience_is_refused(verifier: CustomerTokenVerifier) -> None:
    assert refused(verifier, hs256(claims(aud="another-service"))) == "wrong audience"
    assert refused(verifier, hs256(claims(aud=["another-service"]))) == "wrong audience"


def test_a_token_signed_with_another_key_is_refused(verifier: CustomerTokenVerifier) -> None:
    other = "another-secret-that-is-long-enough-987654321"
    assert refused(verifier, hs256(claims(), key=other)) == "bad signature"


def test_a_token_whose_payload_was_changed_is_refused(verifier: CustomerTokenVerifier) -> None:
    header, _, signature = hs256(claims("cust-0001")).split(".")
    forged = f"{header}.{b64json(claims('cust-0002'))}.{signature}"
    assert refused(verifier, forged) == "bad signature"


def test_an_unsigned_alg_none_token_is_refused(verifier: CustomerTokenVerifier) -> None:
    payload = b64json(claims())
    for alg in ("none", "None", "NONE"):
        header = b64json({"alg": alg, "typ": "JWT"})
        assert refused(verifier, f"{header}.{payload}.") == "InvalidAlgorithmError"
        # Not even with a signature made under the right key.
        signing_input = f"{header}.{payload}".encode()
        signature = b64url(hmac.new(SECRET.encode(), signing_input, hashlib.sha256).digest())
        assert refused(verifier, f"{header}.{payload}.{signature}") == "InvalidAlgorithmError"


def test_an_rs256_token_is_refused_when_hs256_is_configured(
    verifier: CustomerTokenVerifier,
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(), key, algorithm="RS256")
    assert refused(verifier, token) == "InvalidAlgorithmError"


def test_an_es256_token_is_refused_when_hs256_is_configured(
    verifier: CustomerTokenVerifier, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    token = jwt.encode(claims(), ec_key, algorithm="ES256")
    assert refused(verifier, token) == "InvalidAlgorithmError"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_another_hmac_algorithm_is_refused_too(verifier: CustomerTokenVerifier) -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS512")
    assert refused(verifier, token) == "InvalidAlgorithmError"


@pytest.mark.parametrize("missing", ["exp", "iat", "aud", "sub"])
def test_a_token_missing_a_required_claim_is_refused(
    verifier: CustomerTokenVerifier, missing: str
) -> None:
    payload = claims()
    del payload[missing]
    assert refused(verifier, hs256(payload)) == "MissingRequiredClaimError"


def test_a_token_living_longer_than_allowed_is_refused(verifier: CustomerTokenVerifier) -> None:
    assert refused(verifier, hs256(claims(ttl=3601))) == "lifetime longer than allowed"
    year = mint_token("cust-0001", SECRET, AUDIENCE, ttl_s=365 * 24 * 3600)
    assert refused(verifier, year) == "lifetime longer than allowed"


def test_a_token_issued_in_the_future_is_refused(verifier: CustomerTokenVerifier) -> None:
    now = int(time.time())
    token = hs256(claims(iat=now + 600, exp=now + 900))
    # PyJWT checks iat itself since 2.10; the verifier's own check is the fallback.
    assert refused(verifier, token) in ("ImmatureSignatureError", "issued in the future")


def test_a_token_not_yet_valid_is_refused(verifier: CustomerTokenVerifier) -> None:
    now = int(time.time())
    assert refused(verifier, hs256(claims(nbf=now + 600))) == "ImmatureSignatureError"


@pytest.mark.parametrize(
    "subject", ["cust 0001", "../../etc/passwd", "x" * 65, "", "cust-0001'; --", "ċust-0001"]
)
def test_a_subject_that_is_not_a_customer_id_is_refused(
    verifier: CustomerTokenVerifier, subject: str
) -> None:
    assert refused(verifier, hs256(claims(subject))) == "subject is not a customer id"


@pytest.mark.parametrize("subject", [1, True, ["cust-0001"], {"id": "cust-0001"}])
def test_a_subject_that_is_not_a_string_is_refused(
    verifier: CustomerTokenVerifier, subject: object
) -> None:
    assert refused(verifier, hs256(claims(subject))) in (  # type: ignore[arg-type]
        "InvalidSubjectError",
        "subject is not a customer id",
    )


@pytest.mark.parametrize("subject", ["cust-0001\n", "cust-0001\r\n", "\ncust-0001", "cust-0001 "])
def test_a_subject_with_surrounding_whitespace_is_refused(
    verifier: CustomerTokenVerifier, subject: str
) -> None:
    assert refused(verifier, hs256(claims(subject))) == "subject is not a customer id"
    with pytest.raises(ValueError):
        mint_token(subject, SECRET, AUDIENCE)


def test_an_over_long_token_is_refused_before_it_is_parsed(
    verifier: CustomerTokenVerifier,
) -> None:
    valid = hs256(claims(padding="x" * MAX_TOKEN_CHARS))
    assert len(valid) > MAX_TOKEN_CHARS
    assert refused(verifier, valid) == "malformed"
    assert refused(verifier, "a" * (MAX_TOKEN_CHARS + 1)) == "malformed"


@pytest.mark.parametrize("token", [None, "", 42, b"bytes.are.not", ["a", "b"], {"t": 1}])
def test_what_is_not_a_string_is_refused(verifier: CustomerTokenVerifier, token: object) -> None:
    assert refused(verifier, token) == "malformed"


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", "a.b", "....", "Bearer x.y.z"])
def test_garbage_is_refused(verifier: CustomerTokenVerifier, garbage: str) -> None:
    assert refused(verifier, garbage) == "DecodeError"


def test_with_an_issuer_configured_the_token_must_name_it() -> None:
    checking = CustomerTokenVerifier(SECRET, "HS256", AUDIENCE, issuer="https://shop.example")
    assert refused(checking, hs256(claims())) == "MissingRequiredClaimError"
    assert refused(checking, hs256(claims(iss="https://evil.example"))) == "wrong issuer"
    assert checking.verify(hs256(claims(iss="https://shop.example"))).customer_id == "cust-0001"


# --- public-key mode ---------------------------------------------------------------------


def es256_settings(tmp_path: Path, key: ec.EllipticCurvePrivateKey) -> TokenSettings:
    key_file = tmp_path / "shop-public.pem"
    key_file.write_bytes(public_pem(key))
    return TokenSettings(algorithm="ES256", public_key_file=str(key_file), audience=AUDIENCE)


def test_public_key_mode_verifies_tokens_signed_by_the_private_key(
    tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    verifier = CustomerTokenVerifier.from_settings(es256_settings(tmp_path, ec_key))
    assert verifier is not None
    token = mint_token("cust-0004", ec_key, AUDIENCE, algorithm="ES256")
    assert verifier.verify(token).customer_id == "cust-0004"


def test_public_key_mode_refuses_another_key_pair(
    tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    verifier = CustomerTokenVerifier.from_settings(es256_settings(tmp_path, ec_key))
    assert verifier is not None
    stranger = ec.generate_private_key(ec.SECP256R1())
    token = mint_token("cust-0004", stranger, AUDIENCE, algorithm="ES256")
    assert refused(verifier, token) == "bad signature"


def test_public_key_mode_refuses_hmac_signed_with_the_public_key(
    tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    """The classic algorithm confusion: the public key, which anyone has, as an HMAC secret."""
    verifier = CustomerTokenVerifier.from_settings(es256_settings(tmp_path, ec_key))
    assert verifier is not None
    header, payload = b64json({"alg": "HS256", "typ": "JWT"}), b64json(claims())
    signing_input = f"{header}.{payload}".encode()
    signature = b64url(hmac.new(public_pem(ec_key), signing_input, hashlib.sha256).digest())
    assert refused(verifier, f"{header}.{payload}.{signature}") == "InvalidAlgorithmError"
    assert refused(verifier, f"{b64json({'alg': 'none'})}.{payload}.") == "InvalidAlgorithmError"


def test_public_key_mode_refuses_rs256_when_es256_is_configured(
    tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    verifier = CustomerTokenVerifier.from_settings(es256_settings(tmp_path, ec_key))
    assert verifier is not None
    token = jwt.encode(claims(), rsa.generate_private_key(65537, 2048), algorithm="RS256")
    assert refused(verifier, token) == "InvalidAlgorithmError"


def test_public_key_mode_checks_claims_as_well(
    tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    verifier = CustomerTokenVerifier.from_settings(es256_settings(tmp_path, ec_key))
    assert verifier is not None
    now = int(time.time())
    expired = jwt.encode(claims(iat=now - 900, exp=now - 100), ec_key, algorithm="ES256")
    assert refused(verifier, expired) == "expired"
    elsewhere = jwt.encode(claims(aud="elsewhere"), ec_key, algorithm="ES256")
    assert refused(verifier, elsewhere) == "wrong audience"


# --- configuration -----------------------------------------------------------------------


def test_a_short_hmac_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="at least 32"):
        CustomerTokenVerifier("too-short", "HS256", AUDIENCE)
    with pytest.raises(ConfigurationError):
        CustomerTokenVerifier.from_settings(TokenSettings(secret="x" * 31))
    assert CustomerTokenVerifier.from_settings(TokenSettings(secret="x" * 32)) is not None


@pytest.mark.parametrize("algorithm", ["none", "HS1", "hs256", ""])
def test_an_unsupported_algorithm_is_a_configuration_error(algorithm: str) -> None:
    with pytest.raises(ConfigurationError, match="unsupported"):
        CustomerTokenVerifier(SECRET, algorithm, AUDIENCE)


def test_without_a_key_there_is_no_verifier() -> None:
    assert CustomerTokenVerifier.from_settings(TokenSettings()) is None
    assert CustomerTokenVerifier.from_settings(TokenSettings(algorithm="ES256")) is None
    # A secret does not count in public-key mode, nor a key file in HMAC mode.
    assert (
        CustomerTokenVerifier.from_settings(TokenSettings(algorithm="RS256", secret=SECRET)) is None
    )
    assert verification_key(TokenSettings(public_key_file="/nonexistent.pem")) is None


def test_an_unreadable_public_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    settings = TokenSettings(algorithm="ES256", public_key_file=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigurationError, match="CUSTOMER_TOKEN_PUBLIC_KEY_FILE"):
        CustomerTokenVerifier.from_settings(settings)


def test_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    for name in (
        "CUSTOMER_TOKEN_ALGORITHM",
        "CUSTOMER_TOKEN_SECRET",
        "CUSTOMER_TOKEN_PUBLIC_KEY_FILE",
        "CUSTOMER_TOKEN_AUDIENCE",
        "CUSTOMER_TOKEN_ISSUER",
        "CUSTOMER_TOKEN_MAX_LIFETIME_S",
        "CUSTOMER_TOKEN_LEEWAY_S",
    ):
        monkeypatch.delenv(name, raising=False)
    assert TokenSettings.from_env() == TokenSettings()
    assert CustomerTokenVerifier.from_settings(TokenSettings.from_env()) is None

    key_file = tmp_path / "key.pem"
    key_file.write_bytes(public_pem(ec_key))
    monkeypatch.setenv("CUSTOMER_TOKEN_ALGORITHM", "ES256")
    monkeypatch.setenv("CUSTOMER_TOKEN_PUBLIC_KEY_FILE", str(key_file))
    monkeypatch.setenv("CUSTOMER_TOKEN_AUDIENCE", "shop-chat")
    monkeypatch.setenv("CUSTOMER_TOKEN_ISSUER", "https://shop.example")
    monkeypatch.setenv("CUSTOMER_TOKEN_MAX_LIFETIME_S", "600")
    settings = TokenSettings.from_env()
    assert settings.max_lifetime_s == 600 and settings.issuer == "https://shop.example"
    verifier = CustomerTokenVerifier.from_settings(settings)
    assert verifier is not None
    token = mint_token(
        "cust-0003",
        ec_key,
        "shop-chat",
        ttl_s=600,
        algorithm="ES256",
        issuer="https://shop.example",
    )
    assert verifier.verify(token).customer_id == "cust-0003"
    too_long = mint_token(
        "cust-0003",
        ec_key,
        "shop-chat",
        ttl_s=601,
        algorithm="ES256",
        issuer="https://shop.example",
    )
    assert refused(verifier, too_long) == "lifetime longer than allowed"

    monkeypatch.setenv("CUSTOMER_TOKEN_MAX_LIFETIME_S", "ten minutes")
    with pytest.raises(ConfigurationError):
        TokenSettings.from_env()
