"""The static renderer and what it runs on: bucketed static shapes with CUDA-graph replay, mixed
precision, opt-in torch.compile and int8, and memory accounting. Import submodules directly; this package
imports nothing heavy on its own."""
