#include <scgi/error.hpp>

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace {

constexpr int first_error = static_cast<int>(scgi::error::need_more);
constexpr int last_error = static_cast<int>(scgi::error::address_prefix_host_bits_set);

TEST(Error, CategoryIsNamedScgi) {
    EXPECT_STREQ(scgi::error_category().name(), "scgi");
    EXPECT_STREQ(scgi::condition_category().name(), "scgi.condition");
    std::error_code ec = scgi::error::missing_comma;
    EXPECT_EQ(&ec.category(), &scgi::error_category());
    EXPECT_EQ(ec.value(), static_cast<int>(scgi::error::missing_comma));
}

TEST(Error, ValuesStartAtOne) {
    EXPECT_EQ(first_error, 1);
    std::error_code ok;
    EXPECT_FALSE(ok);
    std::error_code need = scgi::error::need_more;
    EXPECT_TRUE(need);  // a value, not "success"
}

TEST(Error, EveryValueHasItsOwnMessage) {
    std::set<std::string> seen;
    for (int v = first_error; v <= last_error; ++v) {
        const std::string message = scgi::error_category().message(v);
        EXPECT_FALSE(message.empty()) << v;
        EXPECT_NE(message, "unknown scgi error") << v;
        EXPECT_TRUE(seen.insert(message).second) << "duplicate message for " << v << ": " << message;
    }
    EXPECT_EQ(scgi::error_category().message(last_error + 1), "unknown scgi error");
    EXPECT_EQ(scgi::error_category().message(0), "unknown scgi error");
}

TEST(Error, MessagesNameTheRule) {
    const auto message = [](scgi::error e) { return std::error_code(e).message(); };
    EXPECT_EQ(message(scgi::error::length_leading_zero), "netstring length has a leading zero");
    EXPECT_NE(message(scgi::error::scgi_header_missing).find("include scgi_params;"), std::string::npos);
    EXPECT_NE(message(scgi::error::content_length_duplicate).find("smuggling"), std::string::npos);
    EXPECT_NE(message(scgi::error::missing_comma).find("','"), std::string::npos);
    EXPECT_NE(message(scgi::error::missing_colon).find("':'"), std::string::npos);
    EXPECT_NE(message(scgi::error::spool_limit_exceeded).find("spool_options::max_bytes"), std::string::npos);
    // The client's timeouts say which part of the response was late.
    EXPECT_EQ(message(scgi::error::response_head_timeout),
              "response head did not arrive within the response head timeout");
    EXPECT_EQ(message(scgi::error::response_body_timeout), "no response body bytes arrived within the body timeout");
}

TEST(Error, ConditionsGroupValues) {
    using scgi::condition;
    using scgi::error;
    for (int v = first_error; v <= last_error; ++v) {
        const std::error_code ec(v, scgi::error_category());
        const auto e = static_cast<error>(v);
        const bool is_limit = e == error::header_block_too_large || e == error::too_many_headers ||
                              e == error::body_too_large || e == error::response_head_too_large ||
                              e == error::spool_limit_exceeded;
        const bool is_argument = e == error::nul_in_name || e == error::nul_in_value ||
                                 e == error::content_length_mismatch ||
                                 e == error::invalid_header_name ||
                                 e == error::invalid_header_value || e == error::invalid_status ||
                                 (e >= error::endpoint_empty && e <= error::socket_activation_invalid) ||
                                 e == error::unix_socket_group_unknown ||
                                 (e >= error::address_prefix_invalid && e <= error::address_prefix_host_bits_set);
        const bool is_timeout = (e >= error::head_timeout && e <= error::connect_timeout) ||
                                e == error::response_head_timeout || e == error::response_body_timeout;
        const bool is_need_more = e == error::need_more;
        EXPECT_EQ(ec == condition::limit_exceeded, is_limit) << ec.message();
        EXPECT_EQ(ec == condition::invalid_argument, is_argument) << ec.message();
        EXPECT_EQ(ec == condition::need_more, is_need_more) << ec.message();
        EXPECT_EQ(ec == condition::timed_out, is_timeout) << ec.message();
        EXPECT_EQ(ec == condition::protocol_violation,
                  !is_limit && !is_argument && !is_need_more && !is_timeout)
            << ec.message();
    }
}

TEST(Error, ConditionMessages) {
    for (int v = 1; v <= 5; ++v) {
        EXPECT_NE(scgi::condition_category().message(v), "unknown scgi condition");
    }
    EXPECT_EQ(scgi::condition_category().message(6), "unknown scgi condition");
    const std::error_condition c = scgi::condition::limit_exceeded;
    EXPECT_EQ(c.message(), "a configured limit was exceeded");
}

TEST(Error, ForeignCodesMatchNoCondition) {
    const std::error_code io = std::make_error_code(std::errc::connection_reset);
    EXPECT_FALSE(io == scgi::condition::protocol_violation);
    EXPECT_FALSE(io == scgi::condition::need_more);
    // An out-of-range value in our category maps to no condition of ours.
    const std::error_code unknown(last_error + 1, scgi::error_category());
    EXPECT_FALSE(unknown == scgi::condition::protocol_violation);
}

}  // namespace
