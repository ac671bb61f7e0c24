"""The real AI CLIs metawsm runs (Claude Code, Codex): their first-run config, launch environment and known
failures. Nothing here starts a process; the engine's agent kind calls :func:`launch.prepare` before it starts
one, and :func:`failures.explain` when one ended without signalling."""
