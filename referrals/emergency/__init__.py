"""The emergency fast path: one staff page over the request workflow (issue 11)."""
