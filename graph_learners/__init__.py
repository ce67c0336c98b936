"""Task-graph learners on PyTorch Geometric. Imports neither graphft nor transformers."""
