"""trueup's HTTP face: the Backstage feed, the API, webhooks, health and metrics.

:func:`trueup.web.app.create_app` builds the FastAPI application from a
:class:`trueup.web.state.ServerState` and mounts one router per module here
(``feed``, ``api``, ``webhooks``, ``health``); the dashboard mounts its own
router the same way and reuses :func:`trueup.web.auth.require` with its cookie.
``trueup serve`` (:mod:`trueup.web.serve`) runs it on uvicorn together with the
scheduler.
"""
