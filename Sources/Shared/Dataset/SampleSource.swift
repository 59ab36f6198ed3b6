import Glibc

/// Where sample bytes come from, by catalog-relative path. A local directory today; an object
/// store later, behind the same protocol.
public protocol SampleSource: Sendable {
    /// The bytes of the sample file at `path`; errors name the path and the problem.
    func read(path: String) throws(DatasetError) -> [UInt8]
    /// Whether there is a file at `path` (a tile directory's optional `instances.csv`).
    func exists(path: String) -> Bool
}

extension SampleSource {
    public func exists(path: String) -> Bool { (try? read(path: path)) != nil }
}

/// Sample files under a local directory (a catalog directory or a copy of it).
public struct LocalDirectorySource: SampleSource {
    public var root: String
    /// Files larger than this are refused before they are read.
    public var maxFileBytes: Int

    public init(root: String, maxFileBytes: Int = 1 << 30) {
        self.root = root
        self.maxFileBytes = maxFileBytes
    }

    public func exists(path: String) -> Bool {
        !path.hasPrefix("/") && !path.split(separator: "/").contains("..") && access(root + "/" + path, F_OK) == 0
    }

    public func read(path: String) throws(DatasetError) -> [UInt8] {
        guard !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
            throw DatasetError(code: "source.bad-path", "sample path '\(path)' must be relative and stay inside \(root)")
        }
        let full = root + "/" + path
        let fd = try posixCall("open \(full)") { open(full, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var info = stat()
        try posixCall("fstat \(full)") { fstat(fd, &info) }
        let size = Int(info.st_size)
        guard size <= maxFileBytes else {
            throw DatasetError(code: "source.too-large", "sample file \(full) is \(size) bytes, over the \(maxFileBytes)-byte limit")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        let failure: DatasetError? = bytes.withUnsafeMutableBytes { buffer in
            while done < size {
                do throws(DatasetError) {
                    let n = try posixCall("read \(full)") { Glibc.read(fd, buffer.baseAddress! + done, size - done) }
                    if n == 0 { break }
                    done += n
                } catch { return error }
            }
            return nil
        }
        if let failure { throw failure }
        guard done == size else {
            throw DatasetError(code: "source.short-read", "sample file \(full) shrank while being read (\(done) of \(size) bytes)")
        }
        return bytes
    }
}

/// Runs one POSIX call, retrying on EINTR and throwing the rest with what was being done.
@discardableResult
func posixCall<T: BinaryInteger>(_ what: String, _ body: () -> T) throws(DatasetError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let err = errno
        if err == EINTR { continue }
        throw DatasetError(code: "source.io", "\(what) failed: \(String(cString: strerror(err)))")
    }
}
