import Core

// The sample channel (minor 4): a worker's DEALER socket to the coordinator's sample server, a
// ROUTER on a port of its own. Same envelope as the control channel; generation and sender are
// 0 (the channel is outside membership). docs/wire-protocol.md, "Sample channel".
extension Wire {
    /// Where and what the coordinator serves, announced in `runConfig`.
    public struct SampleChannel: Sendable, Equatable {
        /// The sample server's TCP port, on the host the worker used to reach the coordinator.
        public var port: UInt16
        /// SHA-256 of the encoded file index (`SampleIndex.files`, `Wire.indexHash`): a worker
        /// trusts an index from the sample port only if it hashes to this.
        public var indexSha256: [UInt8]
        public init(port: UInt16, indexSha256: [UInt8]) { self.port = port; self.indexSha256 = indexSha256 }
    }

    /// Worker → sample server: send the run's file index.
    public struct IndexRequest: Sendable, Equatable {
        /// Echoed in the answer.
        public var request: UInt64
        public init(request: UInt64) { self.request = request }
    }

    /// One file the sample server serves by path, with its size and the SHA-256 of its bytes.
    public struct IndexedFile: Sendable, Equatable {
        /// Relative to the dataset's root (the tile directory, or the catalog directory).
        public var path: String
        public var size: UInt64
        public var sha256: [UInt8]
        public init(path: String, size: UInt64, sha256: [UInt8]) { self.path = path; self.size = size; self.sha256 = sha256 }
    }

    /// Sample server → worker: the files of the run that are named by path rather than by a
    /// manifest entry: the tile directory's tables and images, or the run's manifests.
    public struct SampleIndex: Sendable, Equatable {
        public var request: UInt64
        public var files: [IndexedFile]
        public init(request: UInt64, files: [IndexedFile]) { self.request = request; self.files = files }
    }

    /// Worker → sample server: send the file at `path`.
    public struct SampleRequest: Sendable, Equatable {
        public var request: UInt64
        /// Relative to the dataset's root; ≤ 1024 bytes.
        public var path: String
        public init(request: UInt64, path: String) { self.request = request; self.path = path }
    }

    /// Sample server → worker: the whole file.
    public struct SampleData: Sendable, Equatable {
        public var request: UInt64
        public var bytes: [UInt8]
        public init(request: UInt64, bytes: [UInt8]) { self.request = request; self.bytes = bytes }
    }

    /// Sample server → worker: a request the server will not serve.
    public struct SampleRefused: Sendable, Equatable {
        public enum Reason: UInt16, Sendable {
            /// The path is not one of the run's files (outside the dataset, or not in the run).
            case notInRun = 1
            /// The file is larger than the server sends.
            case tooLarge = 2
            /// The server could not read the file.
            case unreadable = 3
            /// The request could not be decoded, or is not a request.
            case malformed = 4
        }
        public var request: UInt64
        public var reason: Reason
        /// ≤ 4096 bytes.
        public var text: String
        public init(request: UInt64, reason: Reason, text: String) { self.request = request; self.reason = reason; self.text = text }
    }

    /// SHA-256 of a file index as it is encoded on the wire (the `files` list of a `sampleIndex`).
    public static func indexHash(_ files: [IndexedFile]) -> [UInt8] {
        var w = ByteWriter(capacity: 64 * files.count + 4)
        encodeFiles(files, into: &w)
        return SHA256.hash(w.bytes)
    }

    static func encodeFiles(_ files: [IndexedFile], into w: inout ByteWriter) {
        w.count(files.count)
        for file in files { w.string(file.path); w.u64(file.size); w.blob(file.sha256) }
    }

    /// The most files an index may list, and the longest path.
    public static let maxIndexedFiles = 1 << 20
    public static let maxSamplePathBytes = 1024

    static func decodeFiles(_ r: inout ByteReader) throws(WireError) -> [IndexedFile] {
        // A file is at least a path length, a size and a hash length: 16 bytes.
        let n = try r.count("files", elementSize: 16, limit: maxIndexedFiles)
        var files: [IndexedFile] = []
        files.reserveCapacity(n)
        for _ in 0..<n {
            files.append(IndexedFile(path: try r.string("file.path", limit: maxSamplePathBytes), size: try r.u64("file.size"),
                                     sha256: try r.blob("file.sha256", limit: 64)))
        }
        return files
    }

    static func decodeSampleChannel(_ r: inout ByteReader) throws(WireError) -> SampleChannel {
        SampleChannel(port: try r.u16("samples.port"), indexSha256: try r.blob("samples.indexSha256", limit: 64))
    }
}
