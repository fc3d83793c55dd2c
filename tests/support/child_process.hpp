// Test support: a program run as a child process, its stdin, stdout and
// stderr wired as the test wants, every wait bounded, and the process killed
// when the object goes away (the tests stop everything they start).
#pragma once

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace scgi::test {

/// How to start a `child_process`.
struct child_options {
    /// The program and its arguments; argv[0] is the executable's path.
    std::vector<std::string> argv;
    /// The child's stdin: this descriptor (not taken over), else /dev/null.
    int stdin_fd = -1;
    /// The child's stdout: this descriptor (not taken over), else a pipe the
    /// test reads (`read_stdout`, `finish`).
    int stdout_fd = -1;
    /// The child's stderr: a file created at this path, else a pipe the test
    /// reads (`finish`). With `dead_stderr`, a pipe nobody reads (its read
    /// end is closed, so every write gets EPIPE).
    std::string stderr_path;
    bool dead_stderr = false;
    /// Run in the child after fork, before exec (setrlimit, setenv, ...).
    std::function<void()> in_child;
};

/// What a finished child left behind.
struct child_result {
    /// The exit status; 128 + N for a death by signal N; -1 if it did not
    /// end in time (it is killed then).
    int status = -1;
    /// What it wrote to the stdout and stderr pipes (empty if they were not pipes).
    std::string out;
    std::string err;
};

class child_process {
public:
    explicit child_process(child_options options) {
        int out[2] = {-1, -1};
        int err[2] = {-1, -1};
        if (options.stdout_fd < 0 && ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
        if (options.stderr_path.empty() && ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
        std::vector<char*> argv;
        for (std::string& arg : options.argv) argv.push_back(arg.data());
        argv.push_back(nullptr);
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            if (options.in_child) options.in_child();
            const int in = options.stdin_fd >= 0 ? options.stdin_fd : ::open("/dev/null", O_RDONLY);
            ::dup2(in, STDIN_FILENO);
            ::dup2(options.stdout_fd >= 0 ? options.stdout_fd : out[1], STDOUT_FILENO);
            const int error_fd = !options.stderr_path.empty()
                                     ? ::open(options.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600)
                                     : err[1];
            ::dup2(error_fd, STDERR_FILENO);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        if (out[1] >= 0) ::close(out[1]);
        if (err[1] >= 0) ::close(err[1]);
        stdout_ = out[0];
        stderr_ = err[0];
        if (options.dead_stderr && stderr_ >= 0) {
            ::close(stderr_);
            stderr_ = -1;
        }
    }

    ~child_process() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (stdout_ >= 0) ::close(stdout_);
        if (stderr_ >= 0) ::close(stderr_);
    }

    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const { return pid_; }

    /// Reads the stdout pipe until `done(everything read so far)` holds, the
    /// pipe ends, or `limit` passes; returns what was read (consumed: later
    /// reads and `finish` start after it).
    std::string read_stdout(const std::function<bool(std::string_view)>& done,
                            std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        std::string seen;
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done(seen) && std::chrono::steady_clock::now() < deadline) {
            pollfd p{stdout_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            char chunk[65536];
            const ssize_t n = ::read(stdout_, chunk, sizeof chunk);
            if (n <= 0) break;
            seen.append(chunk, static_cast<std::size_t>(n));
        }
        return seen;
    }

    /// Reads the stdout and stderr pipes to their ends, then waits for the
    /// exit, all within `limit`; kills the child if it runs longer.
    child_result finish(std::chrono::milliseconds limit = std::chrono::seconds(60)) {
        child_result result;
        const auto deadline = std::chrono::steady_clock::now() + limit;
        std::vector<std::pair<int*, std::string*>> open;
        if (stdout_ >= 0) open.push_back({&stdout_, &result.out});
        if (stderr_ >= 0) open.push_back({&stderr_, &result.err});
        while (!open.empty() && std::chrono::steady_clock::now() < deadline) {
            std::vector<pollfd> fds;
            for (const auto& [fd, text] : open) fds.push_back({*fd, POLLIN, 0});
            if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
            for (std::size_t i = fds.size(); i-- > 0;) {
                if (fds[i].revents == 0) continue;
                char chunk[65536];
                const ssize_t n = ::read(*open[i].first, chunk, sizeof chunk);
                if (n > 0) {
                    open[i].second->append(chunk, static_cast<std::size_t>(n));
                } else {
                    ::close(*open[i].first);
                    *open[i].first = -1;
                    open.erase(open.begin() + static_cast<std::ptrdiff_t>(i));
                }
            }
        }
        const auto left = deadline - std::chrono::steady_clock::now();
        result.status = wait_exit(std::max(std::chrono::duration_cast<std::chrono::milliseconds>(left),
                                           std::chrono::milliseconds(0)));
        if (result.status == -1) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
        return result;
    }

    /// The exit status after at most `limit` (128 + N for signal N), or -1
    /// if it is still running.
    int wait_exit(std::chrono::milliseconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            int status = 0;
            if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            if (std::chrono::steady_clock::now() >= deadline) return -1;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }

    /// A field of /proc/PID/status in kB (VmHWM: peak resident memory).
    long status_kb(std::string_view field) const {
        std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
        std::string line;
        while (std::getline(in, line)) {
            if (line.compare(0, field.size(), field) == 0 && line.size() > field.size() && line[field.size()] == ':') {
                return std::atol(line.c_str() + field.size() + 1);
            }
        }
        return -1;
    }

    /// User + system CPU time so far, in seconds.
    double cpu_seconds() const {
        std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::istringstream fields(stat.substr(stat.rfind(')') + 2));
        std::string skip;
        for (int i = 3; i < 14; ++i) fields >> skip;  // fields 3..13
        long utime = 0;
        long stime = 0;
        fields >> utime >> stime;
        return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }

private:
    pid_t pid_ = -1;
    int stdout_ = -1;
    int stderr_ = -1;
};

}  // namespace scgi::test
