"""The dashboard's view models: pure functions from store values to what a page shows.

Each page's route (:mod:`trueup.web.ui`) reads the store and hands the values
to one of these modules; the templates only lay out what they return. Tested
without a browser in ``tests/web/ui/test_models.py``.
"""
