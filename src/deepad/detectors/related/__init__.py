"""The closely related areas of the taxonomy: out-of-distribution detection, adversarial-example
detection and curiosity learning (random network distillation)."""
