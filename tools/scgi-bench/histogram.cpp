#include "histogram.hpp"

#include <algorithm>
#include <cmath>

namespace scgi::tools::bench {

void histogram::merge(const histogram& other) noexcept {
    for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
}

std::uint64_t histogram::bucket_low(std::size_t index) noexcept {
    if (index < sub_buckets) return index;
    const auto shift = static_cast<unsigned>(index / sub_buckets - 1);
    return (sub_buckets + index % sub_buckets) << shift;
}

std::uint64_t histogram::bucket_width(std::size_t index) noexcept {
    if (index < sub_buckets) return 1;
    return std::uint64_t{1} << (index / sub_buckets - 1);
}

namespace {

std::uint64_t midpoint(std::size_t index) noexcept {
    return histogram::bucket_low(index) + (histogram::bucket_width(index) - 1) / 2;
}

}  // namespace

std::uint64_t histogram::quantile(double q) const noexcept {
    if (count_ == 0) return 0;
    // Nearest rank: the ceil(q * count)-th smallest value, at least the first.
    const double wanted = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_));
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
    // The first and the last value are known exactly.
    if (rank == 1) return min();
    if (rank >= count_) return max();
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::clamp(midpoint(i), min(), max());
    }
    return max();
}

std::uint64_t histogram::count_between(std::uint64_t low, std::uint64_t high) const noexcept {
    if (low >= high) return 0;
    std::uint64_t total = 0;
    // Only the buckets that can hold a midpoint in [low, high).
    const std::size_t first = bucket_of(low) == 0 ? 0 : bucket_of(low) - 1;
    const std::size_t last = std::min(bucket_of(high - 1) + 1, bucket_count - 1);
    for (std::size_t i = first; i <= last; ++i) {
        if (counts_[i] == 0) continue;
        const std::uint64_t at = std::clamp(midpoint(i), min(), max());
        if (at >= low && at < high) total += counts_[i];
    }
    return total;
}

}  // namespace scgi::tools::bench
