"""Hand-written apps the generated services are measured against, one ASGI module each."""
