"""Escrow (Annex 4): deposits of a secondary node's data with its top-level node, and takeover."""
