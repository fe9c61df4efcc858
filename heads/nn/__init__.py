"""The torch building blocks of the heads: the training loop, losses, attention networks,
frame sequences and score distributions (no estimator a user picks lives here)."""
