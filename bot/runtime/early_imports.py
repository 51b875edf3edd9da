"""Imports a process that loads the model makes before TensorFlow's, because they cost seconds after it.

skops, which stores Rasa's logistic-regression classifier, finds the module of every numpy
and scipy ufunc while it is imported, by walking every module already loaded, for each
ufunc. Imported after Rasa and TensorFlow (about 5,600 modules) that took 8.6 s on this
2-core machine; first (about 1,500 modules), 3.2 s, and the rest of the load is no slower.
"""


def import_before_tensorflow() -> None:
    """Import what a model load needs and is slower to import later; call before Rasa is imported."""
    import skops.io  # noqa: F401  # imported for its side effect: its import-time type tables
