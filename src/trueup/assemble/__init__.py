"""Assembly: the pure merge of observations into entities (SPEC section 5).

``assembler.assemble`` is the entry point; ``precedence``, ``status``,
``linking`` and ``guard`` each hold one truth rule. Nothing here does I/O and
time comes from the caller.
"""
