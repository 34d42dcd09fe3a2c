"""The HTTP face of browserpool: routes, auth, schemas, error mapping. Never touches a browser."""
