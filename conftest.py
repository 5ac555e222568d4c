# Root pytest configuration: the plugin that lets the book build reuse the notebook tests' executions.
pytest_plugins = ["tests.notebook_cache"]
