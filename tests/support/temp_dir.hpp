// Test support: a fresh temporary directory, removed with everything in it
// when the object goes away (for Unix socket paths and files under test).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace scgi::test {

class temp_dir {
public:
    temp_dir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "scgi-test.XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    /// The path of `name` inside the directory.
    std::string file(std::string_view name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

/// The descriptors of this process open on a file under `directory` (an
/// O_TMPFILE file shows as "<directory>/#<inode> (deleted)").
inline std::vector<std::string> open_files_under(const std::string& directory) {
    std::vector<std::string> found;
    const std::string prefix = directory.ends_with('/') ? directory : directory + "/";
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        const auto target = std::filesystem::read_symlink(entry.path(), ec).string();
        if (!ec && target.rfind(prefix, 0) == 0) found.push_back(target);
    }
    return found;
}

}  // namespace scgi::test
