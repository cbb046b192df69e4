"""Microsoft Entra ID credentials: the protocol ``credential=`` takes (that of
``azure.identity``'s credentials), and the managed identity credential
``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` asks for."""

from __future__ import annotations

import importlib
import os
from typing import Protocol, runtime_checkable

from . import _native

#: The variable a deployment sets to ``Authorization=AAD[;ClientId=<id>]``.
AUTHENTICATION_STRING_ENV = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"


@runtime_checkable
class AccessTokenLike(Protocol):
    """What ``get_token`` returns: ``azure.identity``'s ``AccessToken`` (or
    ``AccessTokenInfo``). A ``(token, expires_on)`` tuple does too."""

    @property
    def token(self) -> str: ...

    @property
    def expires_on(self) -> int:
        """Seconds since the Unix epoch."""
        ...


@runtime_checkable
class TokenCredential(Protocol):
    """A source of Entra ID tokens, such as ``azure.identity.DefaultAzureCredential()``
    or ``ManagedIdentityCredential()``: any object with ``get_token(*scopes)``.

    The pipeline calls it on its own background thread (taking the GIL for the call),
    one call at a time, with one scope: ``https://monitor.azure.com//.default``, or
    ``<AADAudience>/.default`` when the connection string names an audience."""

    def get_token(self, *scopes: str) -> AccessTokenLike | tuple[str, int]: ...


def credential_from_environment() -> TokenCredential | None:
    """The credential ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` asks for:
    ``azure.identity.ManagedIdentityCredential`` (with its ``ClientId``, if any), or
    None when the variable is unset or empty.

    Raises:
        ValueError: the variable is malformed (the message names the part).
        ImportError: it asks for Entra ID and ``azure-identity`` is not installed.
    """
    managed = _native._authentication_string(os.environ.get(AUTHENTICATION_STRING_ENV, ""))
    if managed is None:
        return None
    try:
        # Imported by name: azure-identity is optional, and only this needs it.
        identity = importlib.import_module("azure.identity")
    except ImportError as e:
        raise ImportError(
            f"{AUTHENTICATION_STRING_ENV} asks for Entra ID (Authorization=AAD) with a managed "
            "identity, which needs the azure-identity package: `pip install azure-identity`, "
            "or pass credential= (any object with get_token(*scopes), e.g. an azure.identity "
            "credential)"
        ) from e
    client_id = managed["client_id"]
    # The system-assigned identity, or the user-assigned one ClientId names.
    credential: TokenCredential = (
        identity.ManagedIdentityCredential()
        if client_id is None
        else identity.ManagedIdentityCredential(client_id=client_id)
    )
    return credential
