"""Shared fixtures of the service tests (in-process and over real HTTP)."""

# A one-clause policy set the service tests load, validate, break and reload.
POLICY = """\
policy acme-terms {
  provider  acme
  document  "Acme Terms"
  service   api
  version   "1"
  effective 2024-01-01
  url       "https://acme.example/terms"
  clause no-distill {
    topic distillation
    kind prohibition
    when source.use contains "distillation"
    remedy "Do not distil Acme output."
    cite { section "1" quote "You may not distil." }
  }
}
"""
