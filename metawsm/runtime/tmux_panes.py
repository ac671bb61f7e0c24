"""What tmux tells about panes: the one `list-panes` format metawsm asks for, and its parsed form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from metawsm.runtime.base import LABEL_KEYS

SEP = "\t"
# the session's labels (user options @metawsm_<key>, see tmux_args.label_args) come before the session name,
# which stays last: it is the one field that may itself contain the separator
PANE_FIELDS = (
    "#{pane_pid}", "#{pane_dead}", "#{pane_dead_status}", "#{pane_dead_signal}", "#{session_activity}",
    "#{window_activity}", "#{window_index}", "#{pane_index}", "#{window_id}", "#{pane_current_command}",
    "#{@metawsm_exit}", "#{window_name}", *(f"#{{@metawsm_{key}}}" for key in LABEL_KEYS), "#{session_name}",
)
PANE_FORMAT = SEP.join(PANE_FIELDS)


@dataclass(frozen=True)
class PaneInfo:
    session: str
    pane_pid: int | None
    pane_dead: bool  # the window command exited
    exit_status: int | None  # its exit code (128 + signal); None while alive, or when killed from outside
    activity: float  # epoch seconds of the last output in the pane's window (session activity as fallback)
    current_command: str
    window_index: int = 0
    pane_index: int = 0
    window_name: str = ""
    window_id: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)  # only the labels the session has

    def to_json(self) -> dict[str, object]:
        return {**self.__dict__, "labels": dict(self.labels)}


def to_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def recorded_exit(recorded: str, pane_pid: int | None) -> int | None:
    """The exit code the window wrapper recorded (`CODE:PID`, tmux_args.WRAPPER) when it is the code of the pane's
    current process; None for a code a replaced process wrote after a respawn (another PID: the new attempt
    runs). A bare `CODE` (written by an older wrapper) is taken as it is."""
    code, sep, writer = recorded.partition(":")
    if sep and (pane_pid is None or to_int(writer) != pane_pid):
        return None
    return to_int(code)


def parse_pane(line: str) -> PaneInfo | None:
    parts = line.split(SEP, len(PANE_FIELDS) - 1)
    if len(parts) != len(PANE_FIELDS):
        return None
    pid, dead, status, sig, s_act, w_act, w_idx, p_idx, w_id, current, recorded, w_name = parts[:12]
    session = parts[-1]
    labels = {key: value for key, value in zip(LABEL_KEYS, parts[12:-1], strict=True) if value}
    # The wrapper records the exit code just before the pane's shell exits; tmux's own status may lag or
    # stay empty. A pane killed from outside (no recorded code, no tmux status) is dead with status None.
    exit_status = recorded_exit(recorded, to_int(pid))
    is_dead = dead == "1" or exit_status is not None
    if is_dead and exit_status is None:
        code, signum = to_int(status), to_int(sig)
        exit_status = code if code is not None else (128 + signum if signum is not None else None)
    activity = float(to_int(w_act) or to_int(s_act) or 0)
    return PaneInfo(session=session, pane_pid=to_int(pid), pane_dead=is_dead, exit_status=exit_status,
                    activity=activity, current_command=current, window_index=to_int(w_idx) or 0,
                    pane_index=to_int(p_idx) or 0, window_name=w_name, window_id=w_id, labels=labels)
