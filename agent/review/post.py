"""`--post` and `--post-from`: one pull request review, one summary comment updated in place.

Where the pull request is comes from GitHub Actions' environment: `GITHUB_EVENT_PATH` (a
pull_request event, or a workflow_run event for the fork-safe two-workflow setup),
`GITHUB_REPOSITORY`, `GITHUB_TOKEN` and `GITHUB_API_URL` (GitHub Enterprise) or `--github-api-url`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.errors import UserError
from agent.review.github import DEFAULT_API_URL, GitHubAPI, GitHubError
from agent.review.github_plan import (MARKER, GitHubPlan, ReviewPayload, inline_into_body, posted_fingerprints,
                                      summary_comment, without_posted)

REQUIRED_ENV = ("GITHUB_EVENT_PATH", "GITHUB_REPOSITORY", "GITHUB_TOKEN")
PR_EVENTS = frozenset({"pull_request", "pull_request_target"})
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class PullRequestEvent:
    name: str
    pull_number: int | None
    head_sha: str | None
    title: str | None = None
    body: str | None = None


@dataclass(frozen=True)
class PostTarget:
    api: GitHubAPI
    repository: str
    event: PullRequestEvent


def read_event(env: Mapping[str, str]) -> PullRequestEvent | None:
    """The pull request (or workflow run) the Actions event names; None outside Actions or when unreadable."""
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pr, run = data.get("pull_request"), data.get("workflow_run")
    if isinstance(pr, dict):
        head = pr.get("head") if isinstance(pr.get("head"), dict) else {}
        return PullRequestEvent(env.get("GITHUB_EVENT_NAME", "pull_request"), _int(pr.get("number")),
                                _str(head.get("sha")), _str(pr.get("title")), _str(pr.get("body")))
    if isinstance(run, dict):
        return PullRequestEvent("workflow_run", None, _str(run.get("head_sha")))
    return PullRequestEvent(env.get("GITHUB_EVENT_NAME", "unknown"), None, None)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def post_target(env: Mapping[str, str], api_url: str | None) -> PostTarget:
    """Everything needed to post, or a one-line UserError naming what is missing."""
    missing = [name for name in REQUIRED_ENV if not env.get(name)]
    if missing:
        raise UserError(f"--post needs {', '.join(missing)} in the environment (GitHub Actions sets them; "
                        f"give the job `permissions: pull-requests: write`)")
    repository = env["GITHUB_REPOSITORY"]
    if not _REPOSITORY.match(repository):
        raise UserError(f"GITHUB_REPOSITORY={repository!r} is not OWNER/REPO")
    event = read_event(env)
    if event is None:
        raise UserError(f"cannot read the event JSON at GITHUB_EVENT_PATH={env['GITHUB_EVENT_PATH']}")
    url = api_url or env.get("GITHUB_API_URL") or DEFAULT_API_URL
    if not url.startswith(("https://", "http://")):
        raise UserError(f"the GitHub API URL must be http(s):// (got {url!r})")
    return PostTarget(GitHubAPI(url, env["GITHUB_TOKEN"]), repository, event)


def load_plan(path: Path) -> GitHubPlan:
    """A payload written by `--format github`; it may come from an untrusted job, so it is validated strictly."""
    try:
        return GitHubPlan.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise UserError(f"{path} is not a glm-agent github payload: {where}: {first['msg']}") from None


def pull_number(target: PostTarget, plan: GitHubPlan) -> int:
    """The pull request to post on. Outside a pull_request event the payload names it, and GitHub must
    confirm that the pull request's head is the commit the payload reviewed."""
    event = target.event
    if event.name in PR_EVENTS and event.pull_number is not None:
        if plan.pull_number not in (None, event.pull_number):
            raise UserError(f"the payload is for pull request #{plan.pull_number}, the event for #{event.pull_number}")
        return event.pull_number
    if plan.pull_number is None:
        raise UserError(f"the {event.name} event names no pull request and the payload has no pull_number")
    if event.head_sha is not None and event.head_sha != plan.review.commit_id:
        raise UserError(f"the payload reviewed {plan.review.commit_id[:12]} but the workflow run was for {event.head_sha[:12]}")
    pr = target.api.request("GET", f"/repos/{target.repository}/pulls/{plan.pull_number}")
    head = (pr.get("head") or {}).get("sha") if isinstance(pr, dict) else None
    if head != plan.review.commit_id:
        raise UserError(f"pull request #{plan.pull_number}'s head is {str(head)[:12]}, not the reviewed "
                        f"{plan.review.commit_id[:12]}: a newer push will be reviewed on its own")
    return plan.pull_number


def find_summary(comments: list[Any]) -> dict[str, Any] | None:
    """Our summary comment: carries the marker and was written by a bot (a person cannot fake one)."""
    for comment in comments:
        user = comment.get("user") or {}
        if MARKER in (comment.get("body") or "") and user.get("type") == "Bot":
            return comment
    return None


def post(target: PostTarget, plan: GitHubPlan) -> str:
    """Post the review and create or update the summary comment; a one-line account of what was done."""
    number = pull_number(target, plan)
    repo, api = target.repository, target.api
    comments_path = f"/repos/{repo}/issues/{number}/comments"
    existing = find_summary(api.paginate(comments_path))
    posted = posted_fingerprints(existing["body"]) if existing else set()
    payload, new, repeated = without_posted(plan, posted)
    review, fell_back = _post_review(api, f"/repos/{repo}/pulls/{number}/reviews", payload)
    body = summary_comment(plan.summary, posted | new)
    if existing is not None:
        api.request("PATCH", f"/repos/{repo}/issues/comments/{existing['id']}", {"body": body})
    else:
        api.request("POST", comments_path, {"body": body})
    inline = "in the body (GitHub refused an inline line)" if fell_back else "inline"
    return (f"posted review {review.get('id', '?') if isinstance(review, dict) else '?'} on #{number}: "
            f"{payload.event}, {len(payload.comments)} comment(s) {inline}, {repeated} already posted; "
            f"summary comment {'updated' if existing is not None else 'created'}")


def _post_review(api: GitHubAPI, path: str, payload: ReviewPayload) -> tuple[Any, bool]:
    """POST the review; when GitHub answers 422 for it (a line it will not comment on), post it again
    with every comment in the body rather than lose the review."""
    try:
        return api.request("POST", path, payload.model_dump(mode="json")), False
    except GitHubError as exc:
        if exc.status != 422 or not payload.comments:
            raise
    return api.request("POST", path, inline_into_body(payload).model_dump(mode="json")), True
