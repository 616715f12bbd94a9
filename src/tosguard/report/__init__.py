"""Reports: the report model, JSON, text, and the formats for tools (Markdown, SARIF, JUnit)."""
