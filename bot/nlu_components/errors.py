"""The one error the NLU components raise for an unusable embedding model."""
from rasa.shared.exceptions import RasaException


class EmbeddingModelError(RasaException):
    """The sentence-embedding model is missing, corrupt or does not run.

    A `RasaException`, so Rasa's graph shows this message as it is instead of wrapping
    it in a generic "error initializing graph component".
    """
