"""NeuNeu: predict a language model's future downstream accuracy from its early checkpoints.

A re-implementation of "Neural Neural Scaling Laws" (Hu, Pan, Jhaveri, Lourie, Cho 2026, arXiv:2601.19831).
Modules follow the data flow: sources → trajectories / collect → features → model / train → baselines →
evaluate → plots.
"""

__version__ = "0.1.0"
