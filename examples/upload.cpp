// upload ENDPOINT DIR — stores each request's body in a new file under DIR,
// streaming it piece by piece (memory stays bounded whatever the size), and
// answers with the file's name and size.
#include <scgi/asio/server.hpp>

#include <asio/awaitable.hpp>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include <fcntl.h>
#include <unistd.h>

namespace {

std::string directory;
std::atomic<unsigned long> uploads{0};

// Writes all of `data` to `fd`; false on error.
bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

asio::awaitable<scgi::response> handle(scgi::request& req) {
    const std::string name = "upload-" + std::to_string(::getpid()) + "-" + std::to_string(++uploads);
    const std::string path = directory + "/" + name;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) co_return scgi::response::text(500, "cannot create " + name + ": " + std::strerror(errno) + "\n");
    std::uint64_t size = 0;
    std::error_code failure;
    for (;;) {
        auto [ec, piece] = co_await req.read_body_some();
        if (ec) {
            failure = ec;
            break;
        }
        if (piece.empty()) break;
        if (!write_all(fd, piece)) {
            failure = std::error_code(errno, std::system_category());
            break;
        }
        size += piece.size();
    }
    ::close(fd);
    if (failure) {
        ::unlink(path.c_str());
        co_return scgi::response::text(failure == scgi::condition::timed_out ? 408 : 500,
                                       "upload failed: " + failure.message() + "\n");
    }
    co_return scgi::response::text(201, name + " " + std::to_string(size) + "\n");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s ENDPOINT DIR   (host:port, [v6]:port, unix:/path or /path)\n", argv[0]);
        return 2;
    }
    directory = argv[2];
    try {
        scgi::server server(handle);
        const scgi::endpoint where = server.listen(scgi::endpoint::parse(argv[1]));
        std::printf("Listening on %s, storing uploads in %s\n", where.to_string().c_str(), directory.c_str());
        std::fflush(stdout);
        server.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "upload: %s\n", e.what());
        return 1;
    }
    return 0;
}
