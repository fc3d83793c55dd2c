#include "common/help_formatter.hpp"

#include <algorithm>
#include <utility>

namespace scgi::tools {

help_formatter::help_formatter(std::size_t column, std::size_t width) : width_(width) { column_width(column); }

std::string help_formatter::make_description(const CLI::App* app) const {
    const std::string description = app->get_description();
    if (description.empty()) return {};
    return wrap_text(description, width_) + "\n\n";
}

std::string help_formatter::make_positionals(const CLI::App* app) const {
    return CLI::Formatter::make_positionals(app) + "\n";
}

std::string help_formatter::make_group(std::string group, bool is_positional,
                                       std::vector<const CLI::Option*> options) const {
    std::string out = CLI::Formatter::make_group(std::move(group), is_positional, std::move(options));
    if (!is_positional && out.starts_with('\n')) out.erase(0, 1);
    return out;
}

std::string help_formatter::make_option_desc(const CLI::Option* option) const {
    const std::size_t column = get_column_width();
    std::string description = option->get_description();
    if (const std::string default_value = option->get_default_str(); !default_value.empty())
        description += " (default: " + default_value + ")";
    return wrap_text(description, width_ > column + 20 ? width_ - column : 20);
}

std::string help_formatter::make_option_opts(const CLI::Option* option) const {
    if (option->get_positional() || option->get_type_size() == 0) return {};
    // CLI11 appends each validator's description to the type name after a
    // ':' ("N:UINT in [1 - 1024]"); the value's name is what comes before.
    std::string type_name = option->get_type_name();
    type_name = type_name.substr(0, type_name.find(':'));
    std::string out = " " + (!option->get_option_text().empty() ? option->get_option_text() : get_label(type_name));
    if (option->get_expected_max() == CLI::detail::expected_max_vector_size) out += " ...";
    return out;
}

std::string wrap_text(std::string_view text, std::size_t room) {
    std::string out;
    std::size_t line = 0;  // columns used on the current line
    while (!text.empty()) {
        if (text.front() == '\n') {
            out += '\n';
            line = 0;
            text.remove_prefix(1);
            continue;
        }
        if (text.front() == ' ') {
            text.remove_prefix(1);
            continue;
        }
        const std::size_t end = std::min(text.find_first_of(" \n"), text.size());
        const std::string_view word = text.substr(0, end);
        if (line != 0 && line + 1 + word.size() > room) {
            out += '\n';
            line = 0;
        } else if (line != 0) {
            out += ' ';
            ++line;
        }
        out += word;
        line += word.size();
        text.remove_prefix(end);
    }
    return out;
}

}  // namespace scgi::tools
