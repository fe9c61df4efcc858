"""What a head reads and learns from: feature blocks, proximity features, frame-token inputs,
listener ratings, target scaling and one model per target."""
