"""The fast path (issue 4): bucketed static shapes with CUDA-graph replay, mixed precision, opt-in
torch.compile and int8, dynamic batching and memory accounting. Import submodules directly; this package
imports nothing heavy on its own."""
