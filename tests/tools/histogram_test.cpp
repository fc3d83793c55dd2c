// scgi-bench's latency histogram: the bucket layout, the relative error bound
// the README states, nearest-rank quantiles against an exact sort, merging.
#include <gtest/gtest.h>

#include "histogram.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace {

using scgi::tools::bench::histogram;

TEST(Histogram, BucketsTileTheValuesWithoutGaps) {
    // Each bucket starts where the previous one ends, up to the last one.
    std::uint64_t expected_low = 0;
    for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
        ASSERT_EQ(histogram::bucket_low(i), expected_low) << i;
        ASSERT_EQ(histogram::bucket_of(expected_low), i);
        const std::uint64_t width = histogram::bucket_width(i);
        if (expected_low + width - 1 >= expected_low) {  // the last bucket ends at UINT64_MAX
            ASSERT_EQ(histogram::bucket_of(expected_low + width - 1), i);
        }
        expected_low += width;
    }
    EXPECT_EQ(expected_low, 0u);  // wrapped around: every uint64 value has a bucket
    EXPECT_EQ(histogram::bucket_of(UINT64_MAX), histogram::bucket_count - 1);
}

TEST(Histogram, SmallValuesAreExact) {
    histogram h;
    for (std::uint64_t v = 0; v < 256; ++v) h.record(v);
    for (std::uint64_t v = 1; v <= 256; ++v) EXPECT_EQ(h.quantile(static_cast<double>(v) / 256), v - 1);
}

TEST(Histogram, EveryValueReadsBackWithinTheErrorBound) {
    std::mt19937_64 random(42);
    for (int i = 0; i < 100000; ++i) {
        // Log-uniform over 1 ns .. ~18 minutes.
        const auto v = static_cast<std::uint64_t>(std::exp(std::uniform_real_distribution<double>(0, 48)(random)));
        histogram h;
        h.record(v);
        h.record(v + (v >> 20));  // max > v, so the midpoint is not clamped to it
        const std::uint64_t back = h.quantile(0.5);
        ASSERT_LE(std::abs(static_cast<double>(back) - static_cast<double>(v)),
                  histogram::max_relative_error * static_cast<double>(v) + 0.5)
            << v;
    }
    EXPECT_LT(histogram::max_relative_error, 0.01);
}

TEST(Histogram, QuantilesMatchAnExactSortWithinTheBound) {
    std::mt19937_64 random(7);
    std::lognormal_distribution<double> latency(std::log(50'000.0), 0.8);  // around 50 us
    std::vector<std::uint64_t> values;
    histogram h;
    for (int i = 0; i < 200000; ++i) {
        const auto v = static_cast<std::uint64_t>(latency(random)) + 1;
        values.push_back(v);
        h.record(v);
    }
    std::sort(values.begin(), values.end());
    for (const double q : {0.0001, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
        const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
        const auto exact = static_cast<double>(values[rank - 1]);
        EXPECT_NEAR(static_cast<double>(h.quantile(q)), exact, exact * histogram::max_relative_error + 0.5) << q;
    }
    EXPECT_EQ(h.min(), values.front());
    EXPECT_EQ(h.max(), values.back());
    EXPECT_EQ(h.count(), values.size());
    EXPECT_EQ(h.quantile(1.0), values.back());
}

TEST(Histogram, MergeAddsEverything) {
    histogram a;
    histogram b;
    for (std::uint64_t v = 1000; v < 2000; ++v) a.record(v);
    for (std::uint64_t v = 5000; v < 6000; ++v) b.record(v);
    a.merge(b);
    EXPECT_EQ(a.count(), 2000u);
    EXPECT_EQ(a.min(), 1000u);
    EXPECT_EQ(a.max(), 5999u);
    EXPECT_DOUBLE_EQ(a.mean(), (1499.5 + 5499.5) / 2);
    EXPECT_EQ(a.count_between(0, 3000), 1000u);
    EXPECT_EQ(a.count_between(3000, UINT64_MAX), 1000u);
}

TEST(Histogram, EmptyReadsZero) {
    const histogram h;
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.min(), 0u);
    EXPECT_EQ(h.max(), 0u);
    EXPECT_EQ(h.quantile(0.5), 0u);
    EXPECT_EQ(h.mean(), 0.0);
}

}  // namespace
