// Process memory figures for benchmarks and reports.
#pragma once

namespace sct {

// Keeps freed memory in the process for reuse instead of returning it to the OS, so that a ViT step
// does not re-fault gigabytes of fresh pages every time (glibc's default, mmap and munmap for every
// block over 32 MB, ran ViT-B inference at batch 16 at 3.1 instead of 8.1 images/s on a VM).
//
// The allocator is jemalloc (linked by CMake), told here never to return dirty pages. glibc's heap
// with the same policy (no mmap, no trim) reuses a freed block only where a later request fits, and
// a step's tensors of many sizes left it 50% larger than jemalloc's size classes do: ViT-B SCT bf16
// training at batch 64 peaked at 4943 MiB there, 3262 MiB here, at the same speed (AMX Xeon).
void keep_freed_memory();

// Peak resident set size of this process so far, in MiB.
double peak_rss_mb();

}  // namespace sct
