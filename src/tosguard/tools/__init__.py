"""Tools for policy authors: lint, policy tests, explain, diff, the matrix, provenance."""
