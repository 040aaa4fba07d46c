"""Every default a user can see, written once.

The config (``config.py``), the engine's options, the request schemas, the CLI's ``--help`` and the
example config all read these names; a test checks that the example config parses to exactly them.
This module sits at the bottom of the layers (it imports nothing of ishowtts).
"""

from __future__ import annotations

# --- one request (HTTP fields, SynthesisParams, the sampler) --------------------------------------------
NFE_STEP = 16  # sampler steps when a request names none ([engine] nfe)
CFG_STRENGTH = 2.0  # classifier-free guidance
SWAY_SAMPLING_COEF = -1.0
SPEED = 1.0
CROSS_FADE_DURATION = 0.15  # seconds between text chunks
TARGET_RMS = 0.1  # reference loudness the voice is normalised to
FIRST_CHUNK = True  # cut a short first text chunk for time-to-first-audio
FIRST_CHUNK_SECONDS = 1.5  # about how long that first chunk speaks

# --- the engine ([engine]) --------------------------------------------------------------------------------
RENDERER = "static"  # "static": bucketed masked batches (CUDA graphs when enabled); "eager": one by one
RENDERERS = ("static", "eager")  # the choices of [engine] renderer
BUCKETS: tuple[int, ...] = (256, 512, 768, 1024, 1536, 2048, 3072)  # frame-length buckets
FRAME_MULTIPLE = 32  # without CUDA graphs a batch runs at its longest request rounded up to this, not its bucket
MAX_BATCH = 8  # requests rendered together
BATCH_WINDOW_MS = 5.0  # how long the scheduler waits to fill a batch
DTYPE = None  # "auto": fp16 on CUDA; bf16 on CPUs with bf16 matrix units (AMX / AVX512-BF16); else fp32
COMPILE = None  # "auto": inductor-compile the DiT step and Vocos where it measured faster (see engine/options)
QUANTIZE = "auto"  # int8 DiT Linears (torchao) where they measured faster: CPUs with AVX512-VNNI but no AMX
ATTENTION = "auto"  # "sdpa" | "native" (the AVX512-BF16 CPU kernel) | "auto": native on bf16 CPUs without AMX
ATTENTION_KERNELS = ("sdpa", "native")  # the choices of [engine] attention besides "auto"
GRAPHS = False  # CUDA-graph capture: off until validated on a GPU
PRECAST = True  # store the per-step Linears in the compute dtype (bit-identical to autocast)
COMPILE_BACKEND = "inductor"
VOICE_CACHE_SIZE = 64  # prepared reference voices kept per engine

# --- the process ----------------------------------------------------------------------------------------
OMP_WAIT_POLICY = "PASSIVE"  # torch's idle OpenMP workers sleep instead of spinning (ishowtts.openmp)
