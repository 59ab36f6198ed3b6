import Core
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file-system calls the checkpoint store makes, each through one helper that retries
/// `EINTR` and turns a failure into a `CheckpointError` naming the call, the path and `errno`.
///
/// Plain POSIX rather than `FileManager` where durability matters: `FileManager` offers no
/// `fsync` of a file or a directory, and the write protocol depends on both.
enum DurableFile {
    @discardableResult
    static func call<Result: BinaryInteger>(_ function: String, _ path: String, _ body: () -> Result) throws -> Result {
        while true {
            let rc = body()
            if rc != -1 { return rc }
            let code = errno
            if code == EINTR { continue }
            throw CheckpointError(.io, "\(function)(\(path)) failed: \(String(cString: strerror(code))) (errno \(code))")
        }
    }

    /// Flushes a directory's entries (new names, renames) to disk.
    static func syncDirectory(_ path: String) throws {
        let fd = try call("open", path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        try call("fsync", path) { fsync(fd) }
    }

    static func rename(_ from: String, to: String) throws {
        try call("rename", "\(from) -> \(to)") { Glibc.rename(from, to) }
    }

    static func makeDirectory(_ path: String) throws {
        try call("mkdir", path) { mkdir(path, 0o755) }
    }

    /// Creates `path` and its missing parents; an existing directory is fine.
    static func makeDirectories(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError(.io, "cannot create directory \(path): \(error.localizedDescription)")
        }
    }

    static func removeTree(_ path: String) throws {
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw CheckpointError(.io, "cannot remove \(path): \(error.localizedDescription)")
        }
    }

    /// The names in a directory, or an empty list when the directory does not exist.
    static func entries(of path: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { throw CheckpointError(.io, "\(path) is not a directory") }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw CheckpointError(.io, "cannot list \(path): \(error.localizedDescription)")
        }
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// The directory holding `path` (`.` for a bare name).
    static func parent(of path: String) -> String {
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return parent.isEmpty ? "." : parent
    }

    /// Reads a whole regular file. The size is taken from `fstat` and checked against
    /// `maximumSize` (and `expectedSize`, when given) before the buffer is allocated, so a
    /// damaged or hostile file cannot make the reader allocate more than the caller allows.
    static func read(_ path: String, expectedSize: Int? = nil, maximumSize: Int = Int.max) throws -> [UInt8] {
        let fd = try call("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var status = stat()
        try call("fstat", path) { fstat(fd, &status) }
        let size = Int(status.st_size)
        if let expectedSize, size != expectedSize {
            throw CheckpointError(.checksumMismatch, "\(path) is \(size) bytes but the manifest says \(expectedSize)")
        }
        guard size <= maximumSize else {
            throw CheckpointError(.io, "\(path) is \(size) bytes, more than the \(maximumSize) allowed for it")
        }
        return try [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            while initialized < size {
                let got = try call("read", path) { Glibc.read(fd, buffer.baseAddress! + initialized, size - initialized) }
                if got == 0 { throw CheckpointError(.checksumMismatch, "\(path) shrank to \(initialized) bytes while being read") }
                initialized += Int(got)
            }
        }
    }

    /// A new file written sequentially, counted and hashed as it goes, then made durable.
    final class Sink {
        let path: String
        private var fd: Int32
        private(set) var size = 0
        private var hasher = SHA256()

        /// Creates the file; it must not exist (the store writes only into fresh directories).
        init(creating path: String) throws {
            self.path = path
            fd = try DurableFile.call("open", path) { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
        }

        deinit { if fd >= 0 { close(fd) } }

        func append(_ bytes: UnsafeRawBufferPointer) throws {
            hasher.update(bytes)
            var done = 0
            while done < bytes.count {
                let wrote = try DurableFile.call("write", path) {
                    Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
                }
                done += Int(wrote)
            }
            size += bytes.count
        }

        /// Flushes the file's data to disk and closes it; returns its size and SHA-256 (hex).
        func finish() throws -> CheckpointManifest.FileEntry {
            try DurableFile.call("fsync", path) { fsync(fd) }
            let closing = fd
            fd = -1
            try DurableFile.call("close", path) { close(closing) }
            let name = path.split(separator: "/").last.map(String.init) ?? path
            return CheckpointManifest.FileEntry(name: name, size: size, sha256: hasher.finalize().hexString)
        }
    }
}
