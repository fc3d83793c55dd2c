// A latency histogram with bounded relative error (HdrHistogram's log-linear
// layout), cheap enough to record every request of a load run.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace scgi::tools::bench {

/// Counts values (nanoseconds here) in log-linear buckets: every power of two
/// [2^e, 2^(e+1)) is cut into `sub_buckets` equal parts, and values below
/// `sub_buckets` get a bucket each. A bucket's width is then at most
/// 1/`sub_buckets` of its lower bound, so a value read back as its bucket's
/// midpoint is off by at most 1/(2 * sub_buckets) = 0.39 % of itself.
///
/// Recording is a bit scan, a shift and an increment: no allocation, no
/// branch on the value's range, so one histogram per thread can record every
/// request and the threads' histograms are merged at the end. Not
/// thread-safe. min, max, count and sum are kept exactly beside the buckets.
class histogram {
public:
    /// Sub-buckets per power of two (2^7): the precision.
    static constexpr unsigned precision_bits = 7;
    static constexpr std::uint64_t sub_buckets = std::uint64_t{1} << precision_bits;
    /// Buckets to cover every uint64 value: the exact ones below
    /// `sub_buckets`, then `sub_buckets` for each power of two from
    /// 2^precision_bits to 2^63.
    static constexpr std::size_t bucket_count = sub_buckets * (64 - precision_bits + 1);
    /// The largest relative error of a value read back: half a bucket.
    static constexpr double max_relative_error = 0.5 / static_cast<double>(sub_buckets);

    histogram() : counts_(bucket_count, 0) {}

    /// Counts one value.
    void record(std::uint64_t value) noexcept {
        ++counts_[bucket_of(value)];
        ++count_;
        sum_ += value;
        if (value < min_) min_ = value;
        if (value > max_) max_ = value;
    }

    /// Adds another histogram's values (the threads' histograms at the end).
    void merge(const histogram& other) noexcept;

    /// Values recorded.
    std::uint64_t count() const noexcept { return count_; }
    /// The smallest value recorded, exactly; 0 if none.
    std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    /// The largest value recorded, exactly; 0 if none.
    std::uint64_t max() const noexcept { return max_; }
    /// The arithmetic mean, exactly (up to the double's rounding); 0 if none.
    double mean() const noexcept {
        return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
    }

    /// The value at quantile `q` (0 < q <= 1): the smallest recorded value v
    /// such that at least q of the values are <= v (the nearest-rank
    /// definition), as its bucket's midpoint clamped to [min, max]; within
    /// `max_relative_error` of the exact nearest-rank value, and exact for the
    /// first and the last rank (min and max). 0 if empty.
    std::uint64_t quantile(double q) const noexcept;

    /// Values recorded in [low, high), counted by bucket: a bucket is counted
    /// whole where its midpoint, clamped to [min, max], falls (so band edges
    /// are as precise as the buckets, and bands from min() to max() + 1 hold
    /// every value). For the summary's coarse histogram.
    std::uint64_t count_between(std::uint64_t low, std::uint64_t high) const noexcept;

    /// The bucket holding `value`.
    static std::size_t bucket_of(std::uint64_t value) noexcept {
        if (value < sub_buckets) return static_cast<std::size_t>(value);
        // e >= precision_bits: the power of two below value; the shift keeps
        // the top precision_bits + 1 bits, the leading one of which is
        // dropped by subtracting sub_buckets.
        const unsigned e = 63u - static_cast<unsigned>(__builtin_clzll(value));
        const unsigned shift = e - precision_bits;
        const std::uint64_t sub = (value >> shift) - sub_buckets;
        return static_cast<std::size_t>(sub_buckets * (shift + 1) + sub);
    }
    /// The smallest value of bucket `index`.
    static std::uint64_t bucket_low(std::size_t index) noexcept;
    /// The number of values in bucket `index` (its width).
    static std::uint64_t bucket_width(std::size_t index) noexcept;

private:
    std::vector<std::uint64_t> counts_;  // 58 KiB: on the heap, not on a thread's stack
    std::uint64_t count_ = 0;
    std::uint64_t sum_ = 0;
    std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t max_ = 0;
};

}  // namespace scgi::tools::bench
