"""Developer tools that are not part of trueup itself: the mutation run (``make mutation``)."""
