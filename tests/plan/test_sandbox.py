"""Known Jinja2 sandbox-escape payloads: every one is refused with a located PlanError."""

from __future__ import annotations

from typing import Any

import pytest

from metawsm.errors import PlanError

PAYLOADS = {
    "dunder-class": "{{ ticket.id.__class__ }}",
    "mro-subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "mro-method": "{{ ticket.id.mro() }}",
    "globals-via-method": "{{ ticket.items.__globals__ }}",
    "cycler-init-globals": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "lipsum-globals": "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "request-application": "{{ request.application.__globals__.__builtins__ }}",
    "template-reference-context": "{{ self._TemplateReference__context }}",
    "format-string-attack": "{{ '{0.__class__.__base__}'.format(ticket.id) }}",
    "format-map-attack": "{{ '{x.__class__}'.format_map({'x': ticket}) }}",
    "attr-filter": "{{ ticket | attr('__class__') }}",
    "attr-filter-chain": "{{ (ticket | attr('__init__') | attr('__globals__')) }}",
    "getitem-dunder": "{{ ticket['__class__'] }}",
    "config-object": "{{ config.__class__.__init__.__globals__ }}",
    "namespace-internals": "{{ namespace.__init__.__globals__ }}",
    "range-internals": "{{ range.__self__.__import__('os') }}",
    "memory-bomb": "{{ 'x' * 100000000 }}",
    "power-bomb": "{{ 99 ** 99999999 }}",
    "private-attribute": "{{ ticket._label }}",
    "func-code": "{{ ticket.get.__self__ }}",
}


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=list(PAYLOADS))
def test_payload_refused(payload: str, files: Any, cli: Any) -> None:
    plan = f"name: p\ntickets: [ABC-1]\nagents:\n  - name: a\n    profile: shell\n    run: {payload!r}\n"
    with pytest.raises(PlanError) as info:
        files.render(plan)
    (diag,) = info.value.diagnostics
    assert (diag.file, diag.line, diag.keypath) == ("plans/p.yaml", 6, "agents[0].run")
    result = cli("plan", cwd=files.root)
    assert result.code == 2 and "Traceback" not in result.err + result.out
    assert "plans/p.yaml:6:" in result.err


@pytest.mark.parametrize("payload", ["{{ ticket.id.__class__ }}", "{{ ticket | attr('__class__') }}",
                                     "{{ '{0.__class__}'.format(ticket.id) }}"])
def test_unsafe_attribute_message(payload: str, files: Any) -> None:
    plan = f"name: p\ntickets: [ABC-1]\nagents:\n  - name: a\n    profile: shell\n    run: {payload!r}\n"
    with pytest.raises(PlanError) as info:
        files.render(plan)
    assert "template tried to access an unsafe attribute '__class__'" in info.value.diagnostics[0].message
