"""The web app's routes, one module per page or group of pages."""
