"""Neural density estimation with sbi, on arrays: no run folders, no simulators.

``train_npe`` trains an ensemble of posterior networks (``NPESettings``) and returns a
``TrainedPosterior``; ``learn_valid_region`` trains the classifier that restricts proposals to
parameters whose simulations give defined features.
"""
