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


# Issue 15: resource blowups the sandbox used to let through (a 500 MB command, 2.7 GB of memory).
BLOWUPS = {
    "center": "{{ 'x' | center(500000000) }}",
    "format-filter": "{{ '%500000000s' | format('x') }}",
    "percent": "{{ '%500000000s' % 'x' }}",
    "str-format-width": "{{ '{:500000000}'.format('x') }}",
    "ljust": "{{ 'x'.ljust(500000000) }}",
    "indent": "{{ 'a' | indent(500000000) }}",
    "tilde-doubling": "{% set ns = namespace(x='ab') %}{% for i in range(60) %}{% set ns.x = ns.x ~ ns.x %}"
                      "{% endfor %}{{ ns.x }}",
    "plus-doubling": "{% set ns = namespace(x='ab') %}{% for i in range(60) %}{% set ns.x = ns.x + ns.x %}"
                     "{% endfor %}{{ ns.x }}",
    "replace-growth": "{{ ('x' * 100000) | replace('x', 'yyyyyyyyyyyyyyyyyyyy') }}",
    "nested-range": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "nested-list-loops": "{% set l = range(1000) | list %}{% for a in l %}{% for b in l %}{% for c in l %}"
                         "{% endfor %}{% endfor %}{% endfor %}",
    "big-output": "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}",
}


@pytest.mark.parametrize("payload", BLOWUPS.values(), ids=list(BLOWUPS))
def test_resource_blowup_refused_located(payload: str, files: Any) -> None:
    import tracemalloc

    plan = f"name: p\ntickets: [ABC-1]\nagents:\n  - name: a\n    profile: shell\n    run: {payload!r}\n"
    tracemalloc.start()
    try:
        with pytest.raises(PlanError) as info:
            files.render(plan)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (diag,) = info.value.diagnostics
    assert (diag.file, diag.line, diag.keypath) == ("plans/p.yaml", 6, "agents[0].run")
    assert "limit" in diag.message or "loops more than" in diag.message or "longer than" in diag.message
    assert peak < 64 << 20  # nothing near the blowup was ever allocated


def test_ordinary_templates_still_render(files: Any) -> None:
    run = ("{% for i in range(3) %}{{ i }}{% endfor %} {{ '%5s' | format('x') }} {{ 'ab' ~ 'cd' }} "
           "{{ ['a', 'b'] | join(',') }} {{ 'a b' | replace('a', 'c') }} {{ '{:>4}'.format('y') }} "
           "{{ ticket.id | center(9) }}")
    plan = f"name: p\ntickets: [ABC-1]\nagents:\n  - name: a\n    profile: shell\n    run: {run!r}\n"
    fields = files.render(plan).by_id["agent:ABC-1:a"].fields
    assert "012     x abcd a,b c b    y   ABC-1  " in str(fields)
