import Foundation

/// A child process started with `posix_spawn` and reaped with `wait4`, which reports the CPU
/// time of that child alone. (`Foundation.Process` reaps its children itself and keeps their
/// resource usage to itself; `RUSAGE_CHILDREN` mixes in every child the process ever waited for,
/// and, after an `exec`, those of the shell it replaced.)
///
/// Its output and errors go to one file; its standard input is /dev/null; no other descriptor of
/// this process is inherited. The signal mask and the dispositions of SIGTERM and
/// SIGINT are reset, so that a coordinator that ignores SIGTERM (to drain) does not hand that to
/// its workers.
final class ChildProcess {
    let pid: pid_t
    /// The raw wait status, once reaped.
    private(set) var waitStatus: Int32?
    /// The child's own resource usage, once reaped.
    private(set) var usage = rusage()

    /// - Parameter environment: the child's whole environment.
    init(executable: String, arguments: [String], environment: [String: String], outputPath: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        Self.markDescriptorsCloseOnExec()
        var child = pid_t()
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else {
            throw TrainingError(code: "run.spawn", "cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
    }

    /// Whether the child is still running; reaps it if it has ended.
    var isRunning: Bool {
        reap(blocking: false)
        return waitStatus == nil
    }

    /// Waits for the child to end and reaps it.
    func waitUntilExit() {
        reap(blocking: true)
    }

    /// The exit code, or 128 + the signal that ended it; nil while running.
    var exitCode: Int32? {
        guard let status = waitStatus else { return nil }
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    /// Whether a signal ended it.
    var wasSignalled: Bool {
        guard let status = waitStatus else { return false }
        return status & 0x7F != 0
    }

    /// User plus system CPU seconds of the child, once reaped (0 before).
    var cpuSeconds: Double {
        Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    func kill(_ signal: Int32) {
        guard waitStatus == nil else { return }
        _ = Foundation.kill(pid, signal)
    }

    /// Marks every descriptor above standard error close-on-exec, so that a child inherits
    /// none of this process's files and sockets. `Foundation.Process` closes them in the child;
    /// `posix_spawn` cannot (glibc's `addclosefrom_np` is not visible to Swift), and a worker that
    /// held the coordinator's listening sockets would keep their ports bound after the coordinator
    /// died. A descriptor opened by another thread meanwhile may still slip through.
    static func markDescriptorsCloseOnExec() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for fd in names.compactMap(Int32.init) where fd > 2 {
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 && flags & FD_CLOEXEC == 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    private func reap(blocking: Bool) {
        guard waitStatus == nil else { return }
        var status: Int32 = 0
        while true {
            let rc = wait4(pid, &status, blocking ? 0 : WNOHANG, &usage)
            if rc == pid {
                waitStatus = status
                return
            }
            if rc == -1 && errno == EINTR { continue }
            // 0: still running. -1 (ECHILD): someone else reaped it; nothing more to learn.
            if rc == -1 { waitStatus = 0 }
            return
        }
    }
}
