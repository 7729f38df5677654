"""Operating the product: health and readiness, Prometheus metrics, structured logs."""
