"""The ``touchpoint`` command: ``main`` parses and dispatches; one module per command group
(``models``, ``serve``, ``store``, ``topics``, ``followup``, ``ids``). ``python -m flows.cli`` runs it too."""
