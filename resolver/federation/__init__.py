"""Federation with the top-level nodes (DESIGN.md roles): remote resolution, referrals, the outbox."""
