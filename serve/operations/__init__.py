"""The operations application: readiness at `/readyz`."""
