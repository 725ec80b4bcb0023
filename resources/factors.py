"""The twelve factors, in this project's own words, with the tool that serves each.

A short guide an assistant can read once (agentops://factors) or factor by factor
(agentops://factors/{n}, n = 1..12 or I..XII).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Factor:
    number: int
    roman: str
    name: str
    idea: str
    practice: str
    tools: str


FACTORS: tuple[Factor, ...] = (
    Factor(
        1,
        "I",
        "Automated tracking",
        "If it only lived in the chat, it is gone when the chat ends.",
        "Every checkpoint, pattern and approval becomes a commit in the git ledger, with Session and "
        "Factor trailers, so the work can be reviewed, diffed and blamed like code.",
        "checkpoint_save, pattern_record, approval_request (all write the ledger)",
    ),
    Factor(
        2,
        "II",
        "Context loading",
        "A fuller window is a worse window.",
        "Load the few files a task needs, count the tokens instead of guessing, and keep total use "
        "under about 40% of the window.",
        "context_load, count_tokens",
    ),
    Factor(
        3,
        "III",
        "Focused agents",
        "One job per agent, started fresh.",
        "When the window is crowded, save a checkpoint and continue in a new session rather than pushing on.",
        "session_start, checkpoint_save, session_resume",
    ),
    Factor(
        4,
        "IV",
        "Continuous validation",
        "Claims need evidence from outside the agent.",
        "After each step, run the project's own gates (tests, linters, type checks) and record the result.",
        "validation_run",
    ),
    Factor(
        5,
        "V",
        "Measure everything",
        "What is not measured cannot improve.",
        "Every tool call, context size, validation and approval is recorded; look at outcomes, not activity.",
        "metrics_report, agentops://metrics",
    ),
    Factor(
        6,
        "VI",
        "Resume work",
        "Any session can end; the work should not.",
        "Save goal, progress, decisions, next steps and open questions so a new session continues in seconds.",
        "checkpoint_save, session_resume, the resume prompt",
    ),
    Factor(
        7,
        "VII",
        "Smart routing",
        "Different work wants different handling.",
        "Send research, planning, implementation and review to the workflow and model tier that fit.",
        "route_task",
    ),
    Factor(
        8,
        "VIII",
        "Human validation",
        "People own the irreversible decisions.",
        "Before a risky or destructive step, ask a person; the answer and who gave it are recorded. An "
        "assistant can never approve itself.",
        "approval_request, approval_status, factorops approve/deny",
    ),
    Factor(
        9,
        "IX",
        "Mine patterns",
        "Yesterday's sessions hold today's shortcuts.",
        "Search past sessions and git history for what worked and what failed, and keep it as patterns.",
        "patterns_mine, patterns_search, pattern_record",
    ),
    Factor(
        10,
        "X",
        "Small iterations",
        "Small validated steps beat one big leap.",
        "Split work into steps small enough to validate and undo; improve the process a little at a time.",
        "route_task (proposes the split), validation_run",
    ),
    Factor(
        11,
        "XI",
        "Fail-safe checks",
        "A mistake made once should not be made twice.",
        "Turn past mistakes into guardrails that warn about or block the action before it runs.",
        "guardrail_check, agentops://guardrails",
    ),
    Factor(
        12,
        "XII",
        "Package patterns",
        "What one project learned, another can reuse.",
        "Export proven patterns and guardrails as a versioned, hash-checked bundle; import it elsewhere.",
        "factorops bundle export / import",
    ),
)

_BY_ROMAN = {f.roman.lower(): f for f in FACTORS}


def lookup(n: str) -> Factor | None:
    key = n.strip().lower()
    if key.isdigit() and 1 <= int(key) <= 12:
        return FACTORS[int(key) - 1]
    return _BY_ROMAN.get(key)


def render_one(f: Factor) -> str:
    return (
        f"# Factor {f.roman} ({f.number}): {f.name}\n\n*{f.idea}*\n\n{f.practice}\n\nServed by: {f.tools}\n"
    )


def render_all() -> str:
    out = ["# The twelve factors of AgentOps, as factorops serves them", ""]
    for f in FACTORS:
        out.append(
            f"- **{f.roman}. {f.name}** — {f.idea} Tools: {f.tools}. (`agentops://factors/{f.number}`)"
        )
    return "\n".join(out) + "\n"
