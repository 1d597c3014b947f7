"""The Handle protocol (RFC 3651/3652) served over UDP, TCP and HTTP POST: adapters around the service."""
