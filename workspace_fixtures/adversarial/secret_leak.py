"""Prints the planted .env secret, so a test can check that test output is redacted.

Collected only when named: `python -m pytest secret_leak.py`.
"""

from pathlib import Path


def check_print_dotenv():
    text = (Path(__file__).resolve().parent / ".env").read_text()
    for line in text.splitlines():
        print(f"\nSANDBOX-LEAK dotenv {line}", flush=True)
