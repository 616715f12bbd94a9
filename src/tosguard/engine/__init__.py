"""The engine: the front end (read, parse, validate, compile), the IR, codegen, the library,
evaluation."""
