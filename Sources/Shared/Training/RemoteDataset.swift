import Core
import Dataset
import Foundation
import ObjectStore
import Transport
import Wire

/// The run's files as a worker without them reads them: fetched from the coordinator's sample
/// server, verified, and kept in the local `SampleCache`.
///
/// What a file must be comes from this side, never from the server's word alone: a file of the
/// index must hash to its index entry, and the index itself to the hash the coordinator announced
/// on the control channel; a sample file of a manifest must decode to the content hash its
/// manifest entry names (and a manifest must verify and give the run's pinned dataset hash,
/// which `RunSetup` checks). Bytes that do not match are fetched again, up to `attempts` times,
/// then the read fails naming the file and the server. A path that is neither indexed nor in a
/// manifest is not asked for at all.
///
/// With `objects` (`dataset.source: s3://BUCKET/PREFIX`), the files' bytes come from object
/// storage instead, at `PREFIX/<path>`; the index — and so what every file must be — still comes
/// from the coordinator, so the store is trusted no more than the sample server is.
///
/// Reads come from the input pipeline's threads; the client multiplexes them over one socket.
public final class RemoteDataset: SampleSource, @unchecked Sendable {
    public struct Settings: Sendable {
        /// How long one request may wait for its answer.
        public var timeout: Duration = .seconds(30)
        /// Requests per file before a read fails (a timeout, garbage, or bytes that do not verify).
        public var attempts = 3
        public init() {}
    }

    public struct Statistics: Sendable, Equatable {
        /// Files fetched from the server and verified.
        public var fetched = 0
        public var fetchedBytes = 0
        /// Files read from the local cache instead.
        public var cacheHits = 0
        /// Answers thrown away: bytes that did not verify, garbage, refusals, no answer in time.
        public var rejectedAnswers = 0
    }

    private enum Expectation {
        /// The SHA-256 of the file's bytes (an indexed file).
        case file(String)
        /// The content hash the file must decode to (a manifest's sample file).
        case content(String)

        var key: String {
            switch self {
            case .file(let hash), .content(let hash): hash
            }
        }
    }

    /// The sample server, as dialled.
    public let server: String
    /// Where the bytes come from when not from the sample server.
    public let objects: (storage: any ObjectStorage, location: ObjectLocation)?
    public let index: [Wire.IndexedFile]
    public let cache: SampleCache
    let settings: Settings
    private let client: RequestClient
    private let indexed: [String: (size: UInt64, sha256: String)]
    private let samples = Locked<[String: String]>([:])
    private let counters = Locked(Statistics())
    private let requests = Locked<UInt64>(0)

    /// Connects to the sample server at `endpoint` and fetches its index, which must hash to
    /// `indexHash` (from the coordinator's run configuration).
    ///
    /// - Throws: `DatasetError` `source.unreachable` when no index comes, `source.index-mismatch`
    ///   when it is not the announced one.
    public init(server endpoint: Endpoint, indexHash: [UInt8], cache: SampleCache, settings: Settings = Settings(),
                objects: (storage: any ObjectStorage, location: ObjectLocation)? = nil,
                security: TransportSecurity = .none) throws {
        server = endpoint.description
        self.objects = objects
        self.cache = cache
        self.settings = settings
        client = try RequestClient(connect: endpoint, origin: "the coordinator's sample server", security: security,
                                   replyID: RemoteDataset.requestID)
        var index: [Wire.IndexedFile]?
        var problems: [String] = []
        for _ in 0..<max(1, settings.attempts) where index == nil {
            let id = requests.update { $0 += 1; return $0 }
            switch RemoteDataset.answer(client.call(RemoteDataset.encode(.indexRequest(Wire.IndexRequest(request: id))), id: id,
                                                    timeout: settings.timeout), timeout: settings.timeout) {
            case .success(.sampleIndex(let reply)):
                let hash = Wire.indexHash(reply.files)
                guard hash == indexHash else {
                    problems.append("its index hashes to \(hash.hexString.prefix(16)), not the announced \(indexHash.hexString.prefix(16))")
                    continue
                }
                index = reply.files
            case .success(let other):
                problems.append("it answered the index request with a \(other.kind)")
            case .failure(let problem):
                problems.append(problem.description)
            }
        }
        guard let index else {
            client.close()
            let mismatch = problems.contains { $0.contains("hashes to") }
            throw DatasetError(code: mismatch ? "source.index-mismatch" : "source.unreachable",
                               "the sample server \(server) gave no usable file index: \(problems.joined(separator: "; "))")
        }
        self.index = index
        var table: [String: (size: UInt64, sha256: String)] = [:]
        for file in index { table[file.path] = (file.size, file.sha256.hexString) }
        indexed = table
    }

    deinit { client.close() }

    /// Allows the sample files of `entries` (a manifest that verified) to be read.
    public func register(_ entries: [Manifest.Entry]) {
        samples.update { table in
            for entry in entries { table[entry.path] = entry.sha256.lowercased() }
        }
    }

    public var statistics: Statistics { counters.value }

    public func exists(path: String) -> Bool {
        indexed[path] != nil || samples.value[path] != nil
    }

    public func read(path: String) throws(DatasetError) -> [UInt8] {
        let expectation: Expectation
        if let file = indexed[path] {
            expectation = .file(file.sha256)
        } else if let content = samples.value[path] {
            expectation = .content(content)
        } else {
            throw DatasetError(code: "source.not-in-run",
                               "'\(path.escapedForLog)' is neither in the file index nor in a manifest of this run; not asked of \(server)")
        }
        let key = expectation.key
        guard SampleCache.isValidKey(key) else {
            throw DatasetError(code: "source.bad-hash", "\(path): '\(key.escapedForLog)' is not a SHA-256 in hex (from the run's index or manifest)")
        }
        if let bytes = cache.lookup(key) {
            counters.update { $0.cacheHits += 1 }
            return bytes
        }
        var problems: [String] = []
        var mismatched = false
        if let objects {
            return try readObject(path, expectation: expectation, from: objects)
        }
        for _ in 0..<max(1, settings.attempts) {
            let id = requests.update { $0 += 1; return $0 }
            let reply = client.call(Self.encode(.sampleRequest(Wire.SampleRequest(request: id, path: path))), id: id, timeout: settings.timeout)
            let problem: String
            switch Self.answer(reply, timeout: settings.timeout) {
            case .success(.sampleData(let data)):
                if let wrong = Self.verify(data.bytes, against: expectation, size: indexed[path]?.size, origin: "\(path) from \(server)") {
                    problem = wrong
                    mismatched = true
                } else {
                    cache.store(key, bytes: data.bytes)
                    counters.update {
                        $0.fetched += 1
                        $0.fetchedBytes += data.bytes.count
                    }
                    return data.bytes
                }
            case .success(.sampleRefused(let refusal)):
                counters.update { $0.rejectedAnswers += 1 }
                // The server's decision does not change by asking again.
                throw DatasetError(code: "source.refused", "the sample server \(server) refused \(path): \(refusal.text.escapedForLog) (reason \(refusal.reason))")
            case .success(let other):
                problem = "answered with a \(other.kind)"
            case .failure(let failure):
                problem = failure.description
            }
            counters.update { $0.rejectedAnswers += 1 }
            problems.append(problem)
        }
        throw DatasetError(code: mismatched ? "source.hash-mismatch" : "source.unreachable",
                           "sample \(path) from the sample server \(server): \(problems.count) attempts failed: \(problems.joined(separator: "; "))")
    }

    /// A file from object storage at `PREFIX/<path>` (paths are relative to the tile directory or
    /// the catalog), verified like an answer of the sample server and kept in the cache.
    private func readObject(_ path: String, expectation: Expectation,
                            from objects: (storage: any ObjectStorage, location: ObjectLocation)) throws(DatasetError) -> [UInt8] {
        let key = objects.location.key(path)
        let origin = "\(objects.storage.name)/\(key)"
        var problems: [String] = []
        var mismatched = false
        for _ in 0..<max(1, settings.attempts) {
            let problem: String
            do {
                guard let bytes = try objects.storage.get(key, range: nil) else {
                    throw DatasetError(code: "source.missing", "\(path) is not in \(objects.storage.name)/\(objects.location.prefix) (no object \(key))")
                }
                if let wrong = Self.verify(bytes, against: expectation, size: indexed[path]?.size, origin: origin) {
                    problem = wrong
                    mismatched = true
                } else {
                    cache.store(expectation.key, bytes: bytes)
                    counters.update {
                        $0.fetched += 1
                        $0.fetchedBytes += bytes.count
                    }
                    return bytes
                }
            } catch let error as DatasetError {
                throw error
            } catch {
                problem = "\(error)"
            }
            counters.update { $0.rejectedAnswers += 1 }
            problems.append(problem)
        }
        throw DatasetError(code: mismatched ? "source.hash-mismatch" : "source.unreachable",
                           "sample \(path) from \(origin): \(problems.count) attempts failed: \(problems.joined(separator: "; "))")
    }

    /// Why `bytes` are not the file expected, or nil when they are.
    private static func verify(_ bytes: [UInt8], against expectation: Expectation, size: UInt64?, origin: String) -> String? {
        switch expectation {
        case .file(let sha256):
            if let size, UInt64(bytes.count) != size { return "\(bytes.count) bytes, the index says \(size)" }
            let actual = SHA256.hex(bytes)
            return actual == sha256 ? nil : "the bytes hash to \(actual.prefix(16)), the index says \(sha256.prefix(16))"
        case .content(let content):
            do {
                let decoded = try SampleFile.decodeWithContentHash(bytes, origin: origin).contentHash
                return decoded == content ? nil : "the sample's content hashes to \(decoded.prefix(16)), its manifest says \(content.prefix(16))"
            } catch {
                return "\(error.code): \(error.message)"
            }
        }
    }

    /// Stops the client's thread. Reads after this fail as unreachable.
    public func close() { client.close() }

    // MARK: Wire

    static func encode(_ message: Wire.Message) -> [UInt8] {
        Wire.encode(message, generation: Generation(0), sender: WorkerID(0), incarnation: Incarnation(0))
    }

    /// A reply decoded, or why it is no answer.
    static func answer(_ reply: [UInt8]?, timeout: Duration) -> Result<Wire.Message, AnswerProblem> {
        guard let reply else { return .failure(AnswerProblem("no answer within \(timeout)")) }
        do { return .success(try Wire.decode(reply).1) } catch { return .failure(AnswerProblem("an undecodable answer (\(error.code): \(error.message))")) }
    }

    struct AnswerProblem: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The request id a sample-channel reply answers: the first body field of every reply kind.
    @Sendable static func requestID(_ frame: [UInt8]) -> UInt64? {
        guard frame.count >= Wire.headerSize + 8 else { return nil }
        return frame.withUnsafeBytes { raw in
            guard UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == Wire.magic else { return nil }
            return UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: Wire.headerSize, as: UInt64.self))
        }
    }
}
