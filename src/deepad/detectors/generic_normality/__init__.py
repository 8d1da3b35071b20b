"""Learning representations of normality, generic normality: autoencoders, GANs,
predictability modelling, self-supervised classification."""
