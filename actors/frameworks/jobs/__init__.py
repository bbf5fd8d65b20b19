"""`mesobus jobs`: a Chronos-compatible framework for scheduled and dependent batch jobs."""
