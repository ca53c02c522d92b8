"""MyAccount: a self-hosted identity server speaking Auth0's My Account API."""

__version__ = "0.1.0"
