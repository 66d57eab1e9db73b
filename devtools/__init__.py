"""Development and test tools; nothing in production imports this package."""
