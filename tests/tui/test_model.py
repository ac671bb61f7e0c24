"""The TUI's data layer: snapshot JSON → agent rows (grouped, questions, gate, usage), the filter."""

from __future__ import annotations

from typing import Any

from metawsm.cli.tui.model import board_of, matching, usage_text


def snapshot(run_id: str, agents: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id, "plan_name": "feature", "status": "running",
            "ticket_states": [{"ticket": t, "status": "working"} for t in sorted({t for t, _ in agents})],
            "gates": [{"ticket": "B-1", "state": "passed"}],
            "agents": [{"ticket": t, "name": n, "key": f"{t}/{n}", "status": "running", "health": "healthy",
                        "health_reason": "active", "attempt": 2, "activity_age_seconds": 3.0,
                        "last_activity_at": "2026-01-02T03:04:05.000Z",
                        "session": f"s-{t}-{n}", "usage": extra.get("usage") if n == "impl" else None}
                       for t, n in agents],
            "questions": [{"ticket": "A-1", "agent": "impl", "thread_id": "fctrl-x", "question": "Which DB?"}]}


def test_rows_grouped_by_run_then_ticket_with_questions_gate_and_usage() -> None:
    usage = {"input_tokens": 12000, "cache_read_tokens": 3000, "output_tokens": 456, "cost_usd": 0.0123}
    board = board_of([snapshot("r1", [("B-1", "docs"), ("A-1", "impl"), ("A-1", "docs")], usage=usage),
                      snapshot("r2", [("C-1", "impl")])])
    assert [r.ident for r in board.rows] == ["r1:A-1/docs", "r1:A-1/impl", "r1:B-1/docs", "r2:C-1/impl"]
    impl = board.find("r1:A-1/impl")
    assert impl is not None and (impl.question, impl.question_thread, impl.attempt) == ("Which DB?", "fctrl-x", 2)
    assert impl.usage == "15.0k/456 $0.01" and board.find("r1:A-1/docs").usage == "-"  # type: ignore[union-attr]
    assert board.find("r1:B-1/docs").gate == "passed" and board.runs == 2  # type: ignore[union-attr]
    only = board_of([snapshot("r1", [("A-1", "impl"), ("B-1", "docs")])], run_id="r2")
    assert only.rows == [] and only.runs == 0
    assert [r.key for r in board_of([snapshot("r1", [("A-1", "impl"), ("B-1", "docs")])], ticket="B-1").rows] == ["B-1/docs"]


def test_filter_needs_every_word() -> None:
    rows = board_of([snapshot("r1", [("A-1", "impl"), ("B-1", "docs")])]).rows
    assert [r.key for r in matching(rows, "question")] == ["A-1/impl"]
    assert [r.key for r in matching(rows, "b-1 DOCS")] == ["B-1/docs"]
    assert matching(rows, "A-1 docs") == [] and len(matching(rows, "")) == 2


def test_usage_text() -> None:
    assert usage_text(None) == "-" and usage_text({}) == "-"
    assert usage_text({"input_tokens": 10, "output_tokens": 20}) == "10/20"
