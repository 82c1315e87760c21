"""`agent batch`: one gated run per target (file or repository), many at once, one shared rate limiter.

spec      the YAML spec as pydantic models; errors name the key and the line
limiter   requests/tokens per minute shared by every job, paused by the server's rate-limit headers
runner    one target's run in its own worktree and branch; the thread pool over all targets
results   the results JSONL (append + fsync), resume, SWE-bench predictions, the Markdown report
view      per-target progress at a terminal (plain lines otherwise) and the summary table
"""
