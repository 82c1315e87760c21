"""A scripted OpenAI-compatible server speaking Cerebras' wire format, for tests and offline demos.

    with ScriptedServer(Script(turns={"executor": [Turn(content="done")]})) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
"""

from agent.testing.script import ErrorSpec, RateLimits, Script, ToolCallSpec, Turn, UsageOverride
from agent.testing.server import RecordedRequest, Responder, ScriptedServer

__all__ = [
    "ErrorSpec",
    "RateLimits",
    "RecordedRequest",
    "Responder",
    "Script",
    "ScriptedServer",
    "ToolCallSpec",
    "Turn",
    "UsageOverride",
]
