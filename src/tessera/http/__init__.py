"""The HTTP face: routes, cookies, CSRF, error shape, rate limits, middleware."""
