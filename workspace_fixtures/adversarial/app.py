"""The project under test: a greeting, so the suite has something ordinary to import."""


def greet(name: str) -> str:
    return f"hello, {name}"
