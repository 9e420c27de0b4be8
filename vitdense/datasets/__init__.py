"""Toy data sets written on the fly (``python -m vitdense.datasets.toy``); the registered datasets
live with their tasks (``vitdense.restoration``, ``vitdense.fewshot``)."""
