"""Reports to the national top-level node: counting, the tables, delivery, and the top-level side."""
