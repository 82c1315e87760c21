"""`python -m agent.testing SCRIPT [--port N] [--record FILE]`: the same as `agent scripted-server`."""

from agent.testing.cli import main

main()
