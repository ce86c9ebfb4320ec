"""A local certificate authority and the certificates it signs, with ``cryptography``.

Pure functions that return PEM bytes; the front door (``smartcity certs``) writes the files. Keys
are ECDSA P-256 (quick to make and to handshake with, accepted by Mosquitto's OpenSSL and by
Python's ``ssl``); certificates are X.509 v3 with the extensions a verifying client and server
check: the CA is ``CA:TRUE`` with key-cert-sign, a server certificate names its hosts in
subjectAltName (IP addresses as IP entries) for hostname checking and carries serverAuth, a
client certificate carries clientAuth.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devices.errors import CertificateInvalid

__all__ = ["CertificatePair", "make_authority", "make_certificate", "subject_of"]


@dataclass(frozen=True, slots=True)
class CertificatePair:
    """A certificate and its private key, PEM-encoded; the key never shows in a repr."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smartcity"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_authority(
    common_name: str, *, valid_days: int, now: dt.datetime | None = None
) -> CertificatePair:
    """A self-signed CA that signs the platform's server and client certificates."""
    key = _new_key()
    start = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=5)
    name = _name(common_name)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificatePair(certificate.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def make_certificate(
    authority: CertificatePair,
    common_name: str,
    *,
    hosts: Iterable[str] = (),
    server: bool,
    valid_days: int,
    now: dt.datetime | None = None,
) -> CertificatePair:
    """A server (``server=True``, for ``hosts``) or client certificate signed by ``authority``."""
    try:
        ca_cert = x509.load_pem_x509_certificate(authority.cert_pem)
        ca_key = serialization.load_pem_private_key(authority.key_pem, password=None)
    except ValueError as exc:
        raise CertificateInvalid("certificate authority", f"cannot be read: {exc}") from exc
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise CertificateInvalid("certificate authority", "its key is not an ECDSA key")
    key = _new_key()
    start = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=5)
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(ca_key, hashes.SHA256())
    return CertificatePair(certificate.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def subject_of(cert_pem: bytes) -> str:
    """A certificate's common name, for messages (``smartcity certs`` prints what it made)."""
    certificate = x509.load_pem_x509_certificate(cert_pem)
    found = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(found[0].value) if found else certificate.subject.rfc4514_string()
