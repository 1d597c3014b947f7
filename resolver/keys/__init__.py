"""Keys and what is done with them, below every adapter: key files, the proofs of a challenge
(signing and checking them), certified answers, and the sealing of stored secrets (SM2)."""
