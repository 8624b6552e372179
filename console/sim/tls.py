"""A throw-away CA and a server certificate for 127.0.0.1 and localhost, written into the state dir."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


def write_private(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Write a file that never exists with wider permissions than `mode`, even for a moment."""
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # an existing file keeps its old mode through O_CREAT
        os.write(fd, data)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class FarmTLS:
    ca_path: Path  # what clients verify with (config `verify:`)
    cert_path: Path  # the servers' certificate chain and private key
    context: ssl.SSLContext
    impostor: ssl.SSLContext  # the "tls-mismatch" fault: a certificate for another name, from another CA


def make_tls(state_dir: Path) -> FarmTLS:
    ca = trustme.CA(organization_name="opsconsole simulated farm")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path = state_dir / "ca.pem"
    cert_path = state_dir / "server.pem"
    write_private(ca_path, ca.cert_pem.bytes(), 0o644)
    write_private(cert_path, cert.private_key_and_cert_chain_pem.bytes(), 0o600)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return FarmTLS(ca_path, cert_path, context, _impostor_context())


def _impostor_context() -> ssl.SSLContext:
    """A server context presenting a certificate for `impostor.invalid`, issued by a CA nobody trusts."""
    other = trustme.CA(organization_name="not the opsconsole simulated farm")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    other.issue_cert("impostor.invalid").configure_cert(context)
    return context
