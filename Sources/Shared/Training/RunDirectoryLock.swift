import Foundation

/// The claim of one coordinator on a run directory: an exclusive `flock` on `coordinator.lock`,
/// which holds the owner's process id.
///
/// Two coordinators on one directory would truncate each other's metrics and interleave their
/// checkpoints; the second one is refused at once, naming the first one's pid. The kernel drops
/// the lock when the owner's process ends, however it ends (kill -9 included), so a stale lock
/// file never blocks a resume. The file itself is left in place: deleting it would let a third
/// coordinator lock a new file while the second still holds the old one.
public final class RunDirectoryLock {
    /// The lock file's name inside the run directory.
    public static let fileName = "coordinator.lock"

    public let path: String
    private var descriptor: Int32

    /// Takes the lock, creating the directory and the file if needed, and writes this process's
    /// id into it.
    ///
    /// - Throws: `TrainingError` `run.locked` naming the owner's pid when another process holds
    ///   it; `run.lock` when the file cannot be created.
    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/" + Self.fileName
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw TrainingError(code: "run.lock", "cannot create the lock file \(path): \(String(cString: strerror(errno)))")
        }
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let failure = errno
            let owner = Self.owner(readingFrom: descriptor)
            close(descriptor)
            descriptor = -1
            guard failure == EWOULDBLOCK else {
                throw TrainingError(code: "run.lock", "cannot lock \(path): \(String(cString: strerror(failure)))")
            }
            throw TrainingError(code: "run.locked", "run directory \(directory) is in use by the coordinator with pid "
                                + "\(owner.map(String.init) ?? "unknown") (\(path)); stop it first, or use another --run-dir")
        }
        // The lock is ours: only now may the pid in the file change.
        let text = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = text.withCString { pwrite(descriptor, $0, strlen($0), 0) }
    }

    /// Gives the lock up (also done when the process ends). Idempotent.
    public func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }

    /// The pid of the coordinator that holds `directory`'s lock now, or nil when none does (no
    /// lock file, or its owner has ended). Does not take the lock.
    public static func liveOwner(of directory: String) -> Int32? {
        let path = directory + "/" + fileName
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // A shared lock is granted only when no coordinator holds the exclusive one.
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        return owner(readingFrom: fd)
    }

    private static func owner(readingFrom fd: Int32) -> Int32? {
        var buffer = [CChar](repeating: 0, count: 32)
        let count = pread(fd, &buffer, buffer.count - 1, 0)
        guard count > 0 else { return nil }
        return Int32(String(cString: buffer).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
