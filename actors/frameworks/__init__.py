"""Frameworks that come with mesobus: `batch` (run a list of shell commands, with
retries) and `execute` (run one command, as `mesos-execute`)."""
