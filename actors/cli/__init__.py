"""The `mesobus` command line: `mesobus --help`; one small module per subcommand."""
