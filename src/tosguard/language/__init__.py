"""The policy language: grammar, parser, AST, static validation, printer, vocabularies."""
