"""HTTP layer: FastAPI app, routes, auth dependencies, error handlers, middleware."""
