"""Small neural building blocks shared by the families that retrain a neural generator (the
``vae`` family's verified retraining, the ``proxy`` family's digits tier): an equinox CVAE and
classifier, optax training as one ``lax.scan``, fresh weights from one draw, image data sets
and feature-space metrics. No family knowledge: what a generator is trained on and how it is
judged stays in the families."""
