// tools/common/help_formatter.hpp: --help within 100 columns, and value
// names without CLI11's annotations.
#include "common/help_formatter.hpp"
#include "common/request_options.hpp"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include <memory>
#include <sstream>
#include <string>

namespace {

using scgi::tools::wrap_text;

TEST(WrapText, BreaksBetweenWordsWithinTheRoom) {
    EXPECT_EQ(wrap_text("one two three four", 9), "one two\nthree\nfour");
    EXPECT_EQ(wrap_text("one two", 7), "one two");
    EXPECT_EQ(wrap_text("  spaces   collapse ", 80), "spaces collapse");
    EXPECT_EQ(wrap_text("kept\nbreaks here", 80), "kept\nbreaks here");
    EXPECT_EQ(wrap_text("averyveryverylongword x", 5), "averyveryverylongword\nx");
    EXPECT_EQ(wrap_text("", 10), "");
}

TEST(HelpFormatter, EveryLineWithin100ColumnsAndNoExcludesLists) {
    CLI::App app("a tool");
    app.formatter(std::make_shared<scgi::tools::help_formatter>());
    std::string endpoint;
    app.add_option("ENDPOINT", endpoint, "where")->required();
    scgi::tools::request_options options;
    scgi::tools::add_request_options(app, options);
    bool flag = false;
    app.add_flag("--flag", flag, "a flag")->excludes("--data");
    const std::string help = app.help();

    std::istringstream lines(help);
    for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 100u) << line;
    EXPECT_EQ(help.find("Excludes"), std::string::npos) << help;
    EXPECT_EQ(help.find("TEXT"), std::string::npos) << help;
    EXPECT_NE(help.find("  -X,--request METHOD "), std::string::npos) << help;
    EXPECT_NE(help.find("  -H,--header 'NAME: VALUE' ...\n"), std::string::npos) << help;
    EXPECT_NE(help.find("  ENDPOINT "), std::string::npos) << help;
    EXPECT_NE(help.find("  --flag "), std::string::npos) << help;
    EXPECT_EQ(help.find("\n\n\n"), std::string::npos) << help;  // one blank line between groups
    EXPECT_NE(help.find("\n\nRequest:\n"), std::string::npos) << help;
}

TEST(HelpFormatter, WrapsTheProgramsDescriptionAndShowsDefaultsWithoutValidatorNotes) {
    CLI::App app(std::string(30, 'a') + " " + std::string(60, 'b') + " " + std::string(20, 'c'));
    app.formatter(std::make_shared<scgi::tools::help_formatter>());
    unsigned connections = 16;
    app.add_option("-c,--connections", connections, "Requests in flight")
        ->type_name("N")
        ->capture_default_str()
        ->check(CLI::Range(1u, 1000u));
    const std::string help = app.help();

    EXPECT_EQ(help.rfind(std::string(30, 'a') + " " + std::string(60, 'b') + "\n" + std::string(20, 'c') + "\n\n", 0),
              0u)
        << help;
    EXPECT_NE(help.find("  -c,--connections N "), std::string::npos) << help;
    EXPECT_EQ(help.find("UINT"), std::string::npos) << help;
    EXPECT_NE(help.find("Requests in flight (default: 16)"), std::string::npos) << help;
}

}  // namespace
