"""The dialogs of `metawsm tui`: a one-line prompt (answer, message, feedback), a confirmation showing what
will happen (close's dry run, stop), and the key help."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

KEYS = (
    ("enter", "attach the terminal to the agent's session (detach with Ctrl-b d to come back)"),
    ("a", "answer the question the agent waits on"),
    ("m", "send a message: pasted into the agent's session, posted in its forum thread"),
    ("r", "restart the agent (a new attempt)"),
    ("s", "stop the agent (asks first)"),
    ("i", "iterate: a new review round for the ticket with your feedback"),
    ("c", "close the ticket: shows the dry run, merges after you confirm"),
    ("/", "filter the agents (words match run, plan, ticket, agent, states, 'question')"),
    ("click", "a tab (screen, diff, thread, checks, transcript) shows it for the selected agent"),
    ("?", "this help"),
    ("q", "quit"),
)

CSS = """
PromptScreen, ConfirmScreen, HelpScreen { align: center middle; }
#dialog { width: 90%; max-width: 120; height: auto; max-height: 90%; border: thick $accent; background: $surface;
          padding: 1 2; }
#dialog VerticalScroll { height: auto; max-height: 30; }
"""


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text; Enter gives it, Escape gives None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]
    DEFAULT_CSS = CSS

    def __init__(self, title: str, context: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text, self.context, self.placeholder = title, context, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.title_text, style="bold"))
            if self.context:
                yield Static(Text(self.context, style="yellow"))
            yield Input(placeholder=self.placeholder, id="prompt")
            yield Static(Text("enter sends · escape cancels", style="dim"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """Show what an action will do; y confirms, n or Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("y", "answer(True)", "yes"), Binding("n", "answer(False)", "no"),
                Binding("escape", "answer(False)", "cancel")]
    DEFAULT_CSS = CSS

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self.title_text, self.body = title, body

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.title_text, style="bold"))
            with VerticalScroll():
                yield Static(Text(self.body))
            yield Static(Text("y confirms · n or escape cancels", style="dim"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "close"), Binding("question_mark", "close", "close"), Binding("q", "close", "close")]
    DEFAULT_CSS = CSS

    def compose(self) -> ComposeResult:
        text = Text()
        for key, what in KEYS:
            text.append(f"{key:>6}  ", style="bold cyan")
            text.append(what + "\n")
        with Vertical(id="dialog"):
            yield Static(Text("metawsm tui — keys", style="bold"))
            yield Static(text)
            yield Static(Text("escape closes", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
