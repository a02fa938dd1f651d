"""The dashboard's widgets: fleet header, functions table, invocation stream, timing bar."""
