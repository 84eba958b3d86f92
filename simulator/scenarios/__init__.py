"""Built-in scenarios, one TOML file each."""
