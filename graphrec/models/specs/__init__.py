"""One light module per model (no torch): its schema and its :class:`~..spec.ModelSpec`,
``SPEC``. :mod:`..registry` finds every module here; a new model adds one."""
