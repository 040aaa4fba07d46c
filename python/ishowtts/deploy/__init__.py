"""Running the server past one process: Ray Serve deployments (``serve --ray``, the ``scale`` extra)."""
