"""The local CA signs server and client certificates a verifying TLS peer accepts."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from devices import CertificateInvalid, CertificatePair, make_authority, make_certificate

CA = make_authority("test CA", valid_days=30)


def test_a_server_certificate_is_signed_by_the_ca_and_names_its_hosts() -> None:
    pair = make_certificate(
        CA, "broker", hosts=["localhost", "127.0.0.1", "::1"], server=True, valid_days=30
    )
    certificate = x509.load_pem_x509_certificate(pair.cert_pem)
    certificate.verify_directly_issued_by(x509.load_pem_x509_certificate(CA.cert_pem))
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_a_client_certificate_is_for_client_authentication_only() -> None:
    pair = make_certificate(CA, "client", server=False, valid_days=30)
    certificate = x509.load_pem_x509_certificate(pair.cert_pem)
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is False


def test_a_private_key_never_shows_in_a_repr() -> None:
    assert CA.key_pem.decode() not in repr(CA)


def test_an_unreadable_authority_is_named() -> None:
    with pytest.raises(CertificateInvalid, match="certificate authority"):
        make_certificate(CertificatePair(b"junk", b"junk"), "x", server=False, valid_days=1)
