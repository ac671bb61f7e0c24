"""The Go metawsm's `RunSnapshot` fields, added beside ours in every run the API returns (the Go web
UI and scripts read them). Which are aliases of ours (docs/api.md, "runs"):

- `RunID`, `Tickets`: `run_id`, `tickets`.
- `Status`: `status` in the Go vocabulary (`complete` becomes `completed`; the others are alike).
- `PendingGuidance[{ThreadID, AgentName, WorkspaceName, Question}]`: `questions` (AgentName is the
  agent key `TICKET/name`, WorkspaceName the ticket); `pending_guidance` is the same list in the
  lower-case spelling the Go UI reads first.
- `UnhealthyAgents[{AgentName, WorkspaceName, SessionName, Status, Health, LastActivity,
  LastProgress, ActivityAge, ProgressAge}]`: `agents` marked `unhealthy`; ages in nanoseconds (Go's
  `time.Duration`).
- `HasDirtyDiffs`: a refused gate names a dirty or uncommitted worktree.
- `DraftPullRequests`, `OpenPullRequests`, `QueuedReviewFeedback`, `NewReviewFeedback`: always 0 (no
  pull-request or review-feedback tracking here).
"""

from __future__ import annotations

from typing import Any

GO_STATUS = {"complete": "completed"}


def _ns(seconds: float | None) -> int:
    return int((seconds or 0) * 1_000_000_000)


def add_go_fields(run: dict[str, Any]) -> dict[str, Any]:
    """`run` (a snapshot's JSON) with the Go RunSnapshot fields added."""
    guidance = [{"thread_id": q["thread_id"], "agent_name": f"{q['ticket']}/{q['agent']}",
                 "workspace_name": q["ticket"], "question": q["question"]} for q in run.get("questions", [])]
    unhealthy = [a for a in run.get("agents", []) if a.get("unhealthy")]
    dirty = any("dirty" in (g.get("reason") or "") or "uncommitted" in (g.get("reason") or "")
                for g in run.get("gates", []) if g.get("state") == "refused")
    run.update({
        "RunID": run["run_id"], "Status": GO_STATUS.get(run["status"], run["status"]),
        "Tickets": list(run.get("tickets", [])), "pending_guidance": guidance,
        "PendingGuidance": [{"ThreadID": g["thread_id"], "AgentName": g["agent_name"],
                             "WorkspaceName": g["workspace_name"], "Question": g["question"]} for g in guidance],
        "UnhealthyAgents": [{
            "AgentName": a["key"], "WorkspaceName": a["ticket"], "SessionName": a["session"],
            "Status": a["status"], "Health": a.get("health") or "", "LastActivity": a.get("last_activity_at"),
            "LastProgress": a.get("last_progress_at"), "ActivityAge": _ns(a.get("activity_age_seconds")),
            "ProgressAge": _ns(a.get("progress_age_seconds"))} for a in unhealthy],
        "HasDirtyDiffs": dirty, "DraftPullRequests": 0, "OpenPullRequests": 0,
        "QueuedReviewFeedback": 0, "NewReviewFeedback": 0,
    })
    return run
