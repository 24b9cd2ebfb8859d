"""Building blocks: attention with KV cache, transformer blocks, patchify, rotary time."""
