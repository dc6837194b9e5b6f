"""Session stores: disk (diskcache), Redis and S3 behind ``core.ports.SessionStore``."""
