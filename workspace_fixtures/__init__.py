"""Small real projects that tests and `agent demo` copy into temporary git repositories.

A package only so that the demo's fixture ships with the distribution; nothing here is imported.
"""
