"""Learning representations of normality: generic normality (autoencoders, GANs, predictability, self-supervision)."""
