// Heap allocation counting for the benchmark binary: alloc_counter.cpp
// replaces the global operator new/delete with versions that count.
#pragma once

#include <cstdint>

namespace scgi_bench {

/// Number of global operator new calls (every form) made by this thread so far.
std::uint64_t allocation_count() noexcept;

}  // namespace scgi_bench
