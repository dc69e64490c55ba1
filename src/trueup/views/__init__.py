"""The shapes trueup shows people and machines: explain, history, check and the scorecard.

One module per view, each a pure function of what the store returned. The CLI's
``--format json`` (docs/cli-json.md, stable) and the HTTP API (``/api/v1``)
return exactly these shapes, and the dashboard renders them; nothing here does
I/O except :func:`~trueup.views.refs.resolve_ref`, which asks the store.
"""
